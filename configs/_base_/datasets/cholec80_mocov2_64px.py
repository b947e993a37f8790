# Cholec80 frames at CPU scale: the same views as cholec80_mocov2.py at
# 64x64, frames at 0.2 fps (~18k from videos 1-40), batch 64.
_base_ = ['./cholec80_mocov2.py']

crop_size = 64
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
    dict(
        type='GaussianBlur',
        magnitude_range=(0.1, 2.0),
        magnitude_std='inf',
        prob=0.5),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MedMultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackMedInputs'),
]
eval_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(crop_size, crop_size)),
    dict(type='PackMedInputs'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    dataset=dict(fps=0.2, pipeline=train_pipeline))
val_dataloader = dict(num_workers=2, dataset=dict(pipeline=eval_pipeline))
test_dataloader = val_dataloader
