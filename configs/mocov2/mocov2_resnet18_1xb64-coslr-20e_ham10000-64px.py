# MoCo v2, ResNet-18, on HAM10000 at 64x64: sized for a CPU (2 cores).
_base_ = ['./mocov2_resnet50_8xb32-coslr-200e_ham10000.py']

crop_size = 64
max_epochs = 20

model = dict(
    queue_len=4096,
    backbone=dict(depth=18, norm_cfg=dict(type='BN')),
    neck=dict(in_channels=512, hid_channels=512))

view_pipeline = [
    dict(type='RandomResizedCrop', scale=crop_size, crop_ratio_range=(0.2, 1.)),
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='ColorJitter',
                brightness=0.4,
                contrast=0.4,
                saturation=0.4,
                hue=0.1)
        ],
        prob=0.8),
    dict(
        type='RandomGrayscale',
        prob=0.2,
        keep_channels=True,
        channel_weights=(0.114, 0.587, 0.2989)),
    # Blur sigmas scaled down with the image side (224 -> 64 px).
    dict(
        type='GaussianBlur',
        magnitude_range=(0.1, 0.6),
        magnitude_std='inf',
        prob=0.5),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='MedMultiView', num_views=2, transforms=[view_pipeline]),
        dict(type='PackMedInputs'),
    ]))
eval_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(crop_size, crop_size)),
    dict(type='PackMedInputs'),
]
val_dataloader = dict(dataset=dict(pipeline=eval_pipeline))
test_dataloader = dict(dataset=dict(pipeline=eval_pipeline))

optim_wrapper = dict(optimizer=dict(lr=0.06))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        by_epoch=True,
        begin=0,
        end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
auto_scale_lr = dict(base_batch_size=64)
default_hooks = dict(checkpoint=dict(interval=5))
