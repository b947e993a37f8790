# NIH ChestX-ray14 (data/ChestXray14, see docs/data_preparation.md) for
# supervised multi-label fine-tuning at 64x64: 14 findings per radiograph.
# Splits: `train` / `val` split the official train_val_list.txt by patient
# (10 % of its patients are val, split_seed 0), `test` is the official
# test_list.txt; the official lists keep patients apart, so no patient is in
# two splits. Set train_dataloader.dataset.label_fraction (0.01, 0.1, 1) and
# fraction_seed for low-label runs: whole patients are drawn (seeded), then
# enough for every finding to appear. The radiographs are 1024x1024 PNGs:
# decoding them dominates the time of a 64 px epoch on a CPU.
dataset_type = 'ChestXray14'
data_root = 'data/ChestXray14'
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
common = dict(type=dataset_type, data_root=data_root, with_label=True)

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
# Per-finding AUC (cls/auc_<finding>) and their mean (cls/mean_auc).
val_evaluator = dict(type='MedClassificationMetric', multi_label=True)
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
