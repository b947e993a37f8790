# Synthetic surgical videos (tools/dataset_converters/
# make_demo_surgical_videos.py; `make demo-distillingself` writes them):
# 16 videos of 30-40 s through the 7 Cholec80 phases, frames extracted at
# 1 fps and 40x40 px, pretrained at 32x32. Videos 1-12 train (10-12
# validate), 13-16 test.
dataset_type = 'SurgicalVideoFrames'
data_root = 'data/demo_surgical'
crop_size = 32
videos = dict(
    train_val_videos=list(range(1, 13)),
    test_videos=[13, 14, 15, 16],
    num_val_videos=3)

# Crops and flips only. The synthetic phases differ by colour and small
# scene elements; with MoCo v2's colour jitter and grayscale, MoCo (random
# init or a frozen public backbone) could not tell a frame's views from
# other frames and its projection collapsed (loss stuck at log(K + 1)).
view_pipeline = [
    dict(type='RandomResizedCrop', scale=crop_size, crop_ratio_range=(0.6, 1.)),
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
        fps=1.0,
        pipeline=train_pipeline,
        **videos))

# Leave-one-out kNN phase accuracy on the three validation videos (each
# frame's neighbours come from the other videos).
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
        fps=1.0,
        pipeline=eval_pipeline,
        **videos))
val_evaluator = dict(type='KNNAccuracy', k=10, exclude_same_group=True)
val_cfg = dict()
test_dataloader = val_dataloader
test_evaluator = val_evaluator
test_cfg = dict()
