# HAM10000 with MoCo v2's two views at 64 px, colour kept: brightness,
# contrast and saturation jitter, no hue jitter, no greyscale. On
# dermoscopy the released views throw away the colour cue and lose to
# random init under a linear probe (docs/benchmarks.md, "Recipes that
# follow the data"). Val/test loaders as in ham10000_mocov2_64px.py.
_base_ = ['./ham10000_mocov2_64px.py']

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
                hue=0.)
        ],
        prob=0.8),
    dict(
        type='GaussianBlur',
        magnitude_range=(0.1, 0.6),
        magnitude_std='inf',
        prob=0.5),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
]
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='MedMultiView', num_views=2, transforms=[view_pipeline]),
        dict(type='PackMedInputs'),
    ]))
