# HAM10000 with MoCo v2's two views at 64 px, for CPU runs: the released
# view recipe (hue jitter and grayscale included) with the blur scaled to
# the crop. Val/test loaders (kNN on the lesions) from ham10000_mocov2.py.
_base_ = ['./ham10000_mocov2.py']

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
