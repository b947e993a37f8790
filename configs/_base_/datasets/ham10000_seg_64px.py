# HAM10000 (../shared/data/ham10000_200x150) lesion segmentation at 64x64:
# the binary lesion masks (masks/*.png, 0/255 with anti-aliased edges,
# thresholded at 127), the fixed lesion-level splits of splits.csv. Images
# are resized to 64x64 (U-Nets need sizes divisible by 32); evaluation is at
# the masks' own 200x150 resolution (the logits are resized to the mask).
# label_key/group_key only serve low-label runs: set
# train_dataloader.dataset.label_fraction (0.01, 0.1, 1) and fraction_seed to
# draw whole lesions per diagnosis.
dataset_type = 'MedImageList'
data_root = '../shared/data/ham10000_200x150'
img_size = 64

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMedSegMap', binary_threshold=127),
    dict(
        type='MedSegRandomResizedCrop',
        scale=img_size,
        crop_ratio_range=(0.5, 1.)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PackMedInputs'),
]
eval_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size)),
    # After the resize: the mask keeps its original resolution.
    dict(type='LoadMedSegMap', binary_threshold=127),
    dict(type='PackMedInputs'),
]
common = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file='labels.csv',
    split_file='splits.csv',
    img_key='image',
    mask_key='mask',
    label_key='label',
    group_key='lesion_id')

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    worker_init_fn=dict(type='mmmedssl.datasets.seed_worker'),
    dataset=dict(
        **common,
        split='train',
        label_fraction=1.0,
        fraction_seed=0,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(**common, split='val', pipeline=eval_pipeline))
val_evaluator = dict(
    type='SegmentationMetric', classes=('background', 'lesion'))
val_cfg = dict()
test_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(**common, split='test', pipeline=eval_pipeline))
test_evaluator = val_evaluator
test_cfg = dict()
