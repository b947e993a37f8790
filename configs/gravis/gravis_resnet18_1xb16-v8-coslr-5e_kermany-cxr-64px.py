# GraVIS on the Kermany paediatric chest X-rays (../shared/data) sized for a
# CPU: ResNet-18 at 64 px, 8 views per source, 5 epochs (about 10 minutes on
# 2 cores). A source is a patient: each view is drawn from any of the
# patient's images, so the 4,707 train images make 2,372 sources.
_base_ = [
    '../_base_/models/gravis_resnet18.py',
    '../_base_/datasets/kermany_cxr_knn.py',
    '../_base_/default_runtime.py',
]

crop_size = 64
num_views = 8
cutout_size = crop_size // 7  # 9 px holes (32 px at 224 px)
max_epochs = 5
norm_mean = [123.675, 116.28, 103.53]  # = the data preprocessor's

# Grey images: hue, saturation and grayscale do nothing, so only brightness
# and contrast jitter; no vertical flip.
view_pipeline = [
    dict(type='RandomResizedCrop', scale=crop_size, crop_ratio_range=(0.2, 1.)),
    dict(type='MedRandomRotation', degrees=10, interpolation='nearest'),
    dict(type='MedColorJitter', brightness=0.4, contrast=0.4),
    # Blur sigmas scaled with the image side (224 -> 64 px).
    dict(type='MedGaussianBlur', sigma=(0.1, 2.0 * crop_size / 224), prob=0.5),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='MedCutout',
        num_holes=3,
        size=cutout_size,
        mean=norm_mean,
        bgr_to_rgb=True),
]
train_dataloader = dict(
    batch_size=16,  # sources per iteration (x num_views views)
    num_workers=1,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    worker_init_fn=dict(type='mmmedssl.datasets.seed_worker'),
    dataset=dict(
        type='MedImageList',
        data_root='../shared/data/chest_xray_pneumonia_224',
        ann_file='labels.csv',
        split_file='splits.csv',
        img_key='image',
        group_key='patient_id',
        # test/ numbers its patients on its own: not a leak.
        independent_splits=('test', ),
        split='train',
        group_sources=True,
        pipeline=[
            dict(type='LoadSourceImages'),
            dict(
                type='MedMultiView',
                num_views=num_views,
                transforms=[view_pipeline],
                source_images_key='source_imgs'),
            dict(type='PackMedInputs'),
        ]))
eval_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(crop_size, crop_size)),
    dict(type='PackMedInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=eval_pipeline))
test_dataloader = dict(dataset=dict(pipeline=eval_pipeline))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, weight_decay=1e-4, momentum=0.9))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        by_epoch=True,
        begin=0,
        end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=max_epochs)
auto_scale_lr = dict(base_batch_size=16)
default_hooks = dict(logger=dict(interval=25),
                     checkpoint=dict(interval=1, max_keep_ckpts=2))
