# Kermany paediatric chest X-rays (../shared/data/chest_xray_pneumonia_224,
# see docs/data_preparation.md) for supervised fine-tuning at 64x64: NORMAL
# (0) vs PNEUMONIA (1). splits.csv fixes the splits: the official test set is
# `test`, 10 % of the training patients are `val`. Set
# train_dataloader.dataset.label_fraction (0.01, 0.1, 1) and fraction_seed
# for low-label runs: whole patients are drawn per class.
dataset_type = 'MedImageList'
data_root = '../shared/data/chest_xray_pneumonia_224'
img_size = 64

# Grey radiographs with a fixed laterality: horizontal flips only and no
# colour jitter.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=img_size, crop_ratio_range=(0.5, 1.)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
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
    split_file='splits.csv',  # joined on the image column
    img_key='image',
    label_key='label_idx',  # NORMAL=0, PNEUMONIA=1
    classes=('NORMAL', 'PNEUMONIA'),
    group_key='patient_id',  # 'personN' / 'IM-NNNN'
    # The official test/ folder numbers its patients on its own, so a
    # patient_id it shares with train/ is not a leak.
    independent_splits=('test', ))

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
