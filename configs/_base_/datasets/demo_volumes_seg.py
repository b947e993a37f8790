# Synthetic labelled CT-like volumes for the 3D segmentation downstream:
#   python tools/dataset_converters/make_demo_volumes.py \
#       --num-seg-volumes 32 [--seg-shape 48 48 24]
# writes data/demo_volumes_seg/{vol,label}_*.npy and labels.csv
# (image,mask,split). Volumes are (x, y, z) in [0, 1]; labels 0 lung,
# 1 nodule/vessel blob, 2 chest wall. Training crops 32x32x16 windows with
# random flips; evaluation runs on whole volumes (sizes divisible by 8).
dataset_type = 'MedImageList'
data_root = 'data/demo_volumes_seg'
crop_size = (32, 32, 16)

train_pipeline = [
    dict(type='LoadVolume'),
    dict(type='LoadMedSegMap'),
    dict(type='MedSegRandomCrop', crop_size=crop_size),
    dict(type='MedSegRandomFlip', axes=(0, 1, 2), prob=0.5),
    dict(type='PackMedInputs', spatial_dims=3),
]
eval_pipeline = [
    dict(type='LoadVolume'),
    dict(type='LoadMedSegMap'),
    dict(type='PackMedInputs', spatial_dims=3),
]
common = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file='labels.csv',
    img_key='image',
    mask_key='mask')

train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    worker_init_fn=dict(type='mmmedssl.datasets.seed_worker'),
    dataset=dict(**common, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(**common, split='val', pipeline=eval_pipeline))
val_evaluator = dict(
    type='SegmentationMetric', classes=('lung', 'blob', 'wall'))
val_cfg = dict()
test_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(**common, split='test', pipeline=eval_pipeline))
test_evaluator = val_evaluator
test_cfg = dict()
