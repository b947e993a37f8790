# The Kermany paediatric chest X-rays in ../shared/data (see
# docs/data_preparation.md) with PCRL's views, at `crop_size` px for CPU
# runs; kNN monitoring on its val split (pneumonia vs normal, patients
# never split) from kermany_cxr_knn.py.
_base_ = ['./kermany_cxr_knn.py']

dataset_type = 'MedImageList'
data_root = '../shared/data/chest_xray_pneumonia_224'
crop_size = 64
cutout_size = crop_size // 7  # 32 px at 224 px, as released
norm_mean = [123.675, 116.28, 103.53]  # = the preprocessor's (see above)

spatial_transforms = [
    dict(type='RandomResizedCrop', scale=crop_size, crop_ratio_range=(0.2, 1.))
]
input_transforms = [
    dict(type='MedRandomRotation', degrees=10, interpolation='nearest'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='MedRandomGrayscale', prob=0.2),
    # Blur sigma scaled with the image side (224 -> 64 px).
    dict(type='MedGaussianBlur', sigma=(0.1, 0.6), prob=0.5),
    dict(
        type='MedColorJitter',
        brightness=0.4,
        contrast=0.4,
        saturation=0.4,
        hue=0.4),
    dict(
        type='MedCutout',
        num_holes=3,
        size=cutout_size,
        mean=norm_mean,
        bgr_to_rgb=True),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='PCRLViews',
        spatial_transforms=spatial_transforms,
        input_transforms=input_transforms,
        target_transform=dict(
            type='RandomFlipRot90', spatial_dims=2, make_target=False)),
    dict(type='PackMedInputs', algorithm_keys=['aug_code']),
]
eval_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(crop_size, crop_size)),
    dict(type='PackMedInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    worker_init_fn=dict(type='mmmedssl.datasets.seed_worker'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='labels.csv',
        split_file='splits.csv',
        img_key='image',
        group_key='patient_id',
        # test/ numbers its patients on its own: not a leak.
        independent_splits=('test', ),
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=eval_pipeline))
test_dataloader = dict(dataset=dict(pipeline=eval_pipeline))
