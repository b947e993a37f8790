# PCRL 2D at CPU scale on HAM10000 (../shared/data, 6,977 training images):
# ResNet-18 U-Net, 64 px views, batch 32, 2 epochs (436 steps, about 11
# minutes on 2 cores), the chest X-ray config's model and schedule. kNN
# monitoring on the val lesions; evaluate with the downstream configs in
# configs/benchmarks.
_base_ = ['./pcrl_resnet18-unet_1xb32-coslr-3e_kermany-cxr-64px.py']

max_epochs = 2
crop_size = 64
cutout_size = crop_size // 7
norm_mean = [123.675, 116.28, 103.53]  # = the preprocessor's
data_root = '../shared/data/ham10000_200x150'

# Colour-preserving, as the GraVIS HAM10000 config: hue shifts and
# grayscale made MoCo v2 and GraVIS lose to random init on dermoscopy
# (docs/benchmarks.md); brightness/contrast/saturation jitter stays.
input_transforms = [
    dict(type='MedRandomRotation', degrees=10, interpolation='nearest'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='MedGaussianBlur', sigma=(0.1, 0.6), prob=0.5),
    dict(
        type='MedColorJitter',
        brightness=0.4,
        contrast=0.4,
        saturation=0.4,
        hue=0.),
    dict(
        type='MedCutout',
        num_holes=3,
        size=cutout_size,
        mean=norm_mean,
        bgr_to_rgb=True),
]
train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        group_key='lesion_id',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(
                type='PCRLViews',
                spatial_transforms=[
                    dict(
                        type='RandomResizedCrop',
                        scale=crop_size,
                        crop_ratio_range=(0.2, 1.))
                ],
                input_transforms=input_transforms,
                target_transform=dict(
                    type='RandomFlipRot90', spatial_dims=2,
                    make_target=False)),
            dict(type='PackMedInputs', algorithm_keys=['aug_code']),
        ]))
eval_dataset = dict(
    _delete_=True,
    type='MedImageList',
    data_root=data_root,
    ann_file='labels.csv',
    split_file='splits.csv',
    img_key='image',
    label_key='label',
    group_key='lesion_id',
    split='val',
    pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(crop_size, crop_size)),
        dict(type='PackMedInputs'),
    ])
val_dataloader = dict(dataset=eval_dataset)
test_dataloader = dict(dataset=dict(eval_dataset, split='test'))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        by_epoch=True,
        begin=0,
        end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs)
