# The embedded demo set (tools/dataset_converters/make_demo_data.py):
# 64x64 synthetic lesion photos, pretrained at 32x32 with PCRL's views.
# Val/test loaders (kNN monitor) come from demo_derm_mocov2.py.
_base_ = ['./demo_derm_mocov2.py']

crop_size = 32  # PCRL: 224 px
cutout_size = crop_size // 7  # 32 px at 224 px
norm_mean = [123.675, 116.28, 103.53]  # = the preprocessor's mean

spatial_transforms = [
    dict(type='RandomResizedCrop', scale=crop_size, crop_ratio_range=(0.2, 1.))
]
# The released recipe; the blur's sigma scaled with the image.
input_transforms = [
    dict(type='MedRandomRotation', degrees=10, interpolation='nearest'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='MedRandomGrayscale', prob=0.2),
    dict(type='MedGaussianBlur', sigma=(0.1, 0.3), prob=0.5),
    dict(
        type='MedColorJitter',
        brightness=0.4,
        contrast=0.4,
        saturation=0.4,
        hue=0.4),
    dict(
        type='MedCutout',
        num_holes=3,
        size=cutout_size,
        mean=norm_mean,
        bgr_to_rgb=True),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='PCRLViews',
        spatial_transforms=spatial_transforms,
        input_transforms=input_transforms,
        target_transform=dict(
            type='RandomFlipRot90', spatial_dims=2, make_target=False)),
    dict(type='PackMedInputs', algorithm_keys=['aug_code']),
]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
