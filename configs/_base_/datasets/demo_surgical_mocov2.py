# Synthetic surgical videos (tools/dataset_converters/
# make_demo_surgical_videos.py; `make demo-distillingself` writes them):
# 8 videos through the 7 Cholec80 phases, frames extracted at 5 fps and
# 40x40 px, pretrained at 32x32. Videos 1-6 train (5-6 validate), 7-8 test.
dataset_type = 'SurgicalVideoFrames'
data_root = 'data/demo_surgical'
crop_size = 32
videos = dict(
    train_val_videos=[1, 2, 3, 4, 5, 6], test_videos=[7, 8], num_val_videos=2)

view_pipeline = [
    dict(type='RandomResizedCrop', scale=crop_size, crop_ratio_range=(0.3, 1.)),
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
    num_workers=0,
    persistent_workers=False,
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
        fps=5.0,
        pipeline=train_pipeline,
        **videos))

# Leave-one-out kNN phase accuracy on the two validation videos (each
# frame's neighbours come from the other video).
val_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        protocol='cholec80',
        split='val',
        fps=5.0,
        pipeline=eval_pipeline,
        **videos))
val_evaluator = dict(type='KNNAccuracy', k=10, exclude_same_group=True)
val_cfg = dict()
test_dataloader = val_dataloader
test_evaluator = val_evaluator
test_cfg = dict()
