# Cholec80 frames for self-supervised pretraining (docs/data_preparation.md):
# frames extracted with tools/dataset_converters/extract_frames.py, margin-
# cropped and resized to 250x250, named by their 25-fps frame index.
# Pretraining uses training videos 1-40 at 1 fps (labels unused); the kNN
# monitor scores phases on the validation videos 33-40 at 0.2 fps. The test
# videos 41-80 are never read here.
dataset_type = 'SurgicalVideoFrames'
data_root = 'data/cholec80'
crop_size = 224

# MoCo v2 "aug-plus", as in the released DistillingSelf.
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
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=True,  # MoCo's queue length must be a multiple of the batch
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    worker_init_fn=dict(type='mmmedssl.datasets.seed_worker'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        protocol='cholec80',
        split='train_val',
        with_label=False,
        fps=1.0,
        pipeline=train_pipeline))

# Leave-one-out kNN phase accuracy on the validation videos; neighbours
# from the same video are excluded.
val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        protocol='cholec80',
        split='val',
        fps=0.2,
        pipeline=eval_pipeline))
val_evaluator = dict(type='KNNAccuracy', k=20, exclude_same_group=True)
val_cfg = dict()
test_dataloader = val_dataloader
test_evaluator = val_evaluator
test_cfg = dict()
