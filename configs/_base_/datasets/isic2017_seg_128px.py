# ISIC 2017 Part 1 (lesion segmentation) from the official archives unpacked
# under data/ISIC2017 (ISIC2017 dataset class: ISIC-2017_{Training,
# Validation,Test_v2}_Data and ..._Part1_GroundTruth): 2,000 / 150 / 600
# images with binary masks (0/255). Images (0.5-30 megapixels) are resized
# to 128x128 ('area' averaging); evaluation is at each mask's original
# resolution, per image, as the challenge scored it. Part 3 labels are not
# needed (with_label=False).
dataset_type = 'ISIC2017'
data_root = 'data/ISIC2017'
img_size = 128

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMedSegMap', binary_threshold=127),
    dict(
        type='MedSegRandomResizedCrop',
        scale=img_size,
        crop_ratio_range=(0.5, 1.),
        interpolation='area'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PackMedInputs'),
]
eval_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size), interpolation='area'),
    # After the resize: the mask keeps its original resolution.
    dict(type='LoadMedSegMap', binary_threshold=127),
    dict(type='PackMedInputs'),
]
common = dict(
    type=dataset_type, data_root=data_root, with_label=False, with_mask=True)

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    worker_init_fn=dict(type='mmmedssl.datasets.seed_worker'),
    dataset=dict(**common, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(**common, split='val', pipeline=eval_pipeline))
val_evaluator = dict(
    type='SegmentationMetric', classes=('background', 'lesion'))
val_cfg = dict()
test_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(**common, split='test', pipeline=eval_pipeline))
test_evaluator = val_evaluator
test_cfg = dict()
