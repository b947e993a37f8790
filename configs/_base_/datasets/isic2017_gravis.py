# ISIC 2017 (official archives unpacked under data/ISIC2017, see the
# ISIC2017 dataset class) with GraVIS' views: `num_views` augmented views of
# every source image. Pretraining uses the 2,000 training images without
# labels; kNN monitoring uses the labelled val/test splits (3 classes:
# nevus, melanoma, seborrheic keratosis).
dataset_type = 'ISIC2017'
data_root = 'data/ISIC2017'
crop_size = 224  # GraVIS: 224 px
num_views = 20  # GraVIS: 20 views per image
# Cutout holes scale with the crop: 32 px at 224 px as in GraVIS (1/7 of
# the side). A child config that changes crop_size must set it too.
cutout_size = crop_size // 7
# Must equal model.data_preprocessor's mean / bgr_to_rgb: MedCutout fills
# its holes with this mean so that they are exactly 0 after normalisation.
norm_mean = [123.675, 116.28, 103.53]

# GraVIS' released per-view recipe, in its order. The full-size photos
# (about 0.5-30 megapixels) are always downscaled: 'area' averages like
# torchvision's antialiased PIL resize, where 'bilinear' would alias.
view_pipeline = [
    dict(
        type='RandomResizedCrop',
        scale=crop_size,
        crop_ratio_range=(0.2, 1.),
        interpolation='area'),
    dict(type='MedRandomRotation', degrees=10, interpolation='nearest'),
    dict(
        type='MedColorJitter',
        brightness=0.4,
        contrast=0.4,
        saturation=0.4,
        hue=0.1),
    dict(type='MedRandomGrayscale', prob=0.2),
    dict(type='MedGaussianBlur', sigma=(0.1, 2.0), prob=0.5),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='MedCutout',
        num_holes=3,
        size=cutout_size,
        mean=norm_mean,
        bgr_to_rgb=True),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MedMultiView', num_views=num_views, transforms=[view_pipeline]),
    dict(type='PackMedInputs'),
]
eval_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(crop_size, crop_size), interpolation='area'),
    dict(type='PackMedInputs'),
]

train_dataloader = dict(
    batch_size=16,  # source images per iteration (x num_views views)
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    worker_init_fn=dict(type='mmmedssl.datasets.seed_worker'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        with_label=False,  # self-supervised: the labels are not needed
        pipeline=train_pipeline))

val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        with_label=True,
        pipeline=eval_pipeline))
# ISIC 2017 has no lesion ids: no neighbour is excluded.
val_evaluator = dict(type='KNNAccuracy', k=20, exclude_same_group=False)
val_cfg = dict()
test_dataloader = dict(
    val_dataloader, dataset=dict(val_dataloader['dataset'], split='test'))
test_evaluator = val_evaluator
test_cfg = dict()
