# HAM10000 (../shared/data/ham10000_200x150) for supervised fine-tuning at
# 64x64: the fixed lesion-level splits of splits.csv, 7 classes. Set
# train_dataloader.dataset.label_fraction (0.01, 0.1, 1) and fraction_seed for
# low-label runs: whole lesions are drawn per class.
dataset_type = 'MedImageList'
data_root = '../shared/data/ham10000_200x150'
img_size = 64

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=img_size, crop_ratio_range=(0.5, 1.)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PackMedInputs'),
]
eval_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size)),
    dict(type='PackMedInputs'),
]
common = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file='labels.csv',
    split_file='splits.csv',
    img_key='image',
    label_key='label',
    group_key='lesion_id')

train_dataloader = dict(
    batch_size=64,
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
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(**common, split='val', pipeline=eval_pipeline))
val_evaluator = dict(type='MedClassificationMetric')
val_cfg = dict()
test_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(**common, split='test', pipeline=eval_pipeline))
test_evaluator = val_evaluator
test_cfg = dict()
