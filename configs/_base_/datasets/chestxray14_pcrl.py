# NIH ChestX-ray14 (see docs/data_preparation.md) with PCRL's views: two
# 224 px crops of each radiograph, photometric augmentation and Cutout for
# the inputs, flip/rot90 transformation targets. Unlabelled pretraining on
# the released 70 % training list (chest_train.txt) when it is given, else
# on the official train_val list.
dataset_type = 'ChestXray14'
data_root = 'data/ChestXray14'
crop_size = 224
# Cutout: 3 holes of 32 px at 224 px as released; a child config that
# changes crop_size must set it too.
cutout_size = crop_size // 7
# Must equal model.data_preprocessor's mean / bgr_to_rgb: MedCutout fills
# its holes with this mean so that they are exactly 0 after normalisation
# (the released Cutout zeroes normalised tensors).
norm_mean = [123.675, 116.28, 103.53]

# The released per-view recipe, in its order. The clean target is the crop;
# the input is the crop after input_transforms; RandomFlipRot90 draws the
# flips/rotation whose result (the transformation target) PCRL builds from
# the normalised input batch.
spatial_transforms = [
    dict(type='RandomResizedCrop', scale=crop_size, crop_ratio_range=(0.2, 1.))
]
input_transforms = [
    dict(type='MedRandomRotation', degrees=10, interpolation='nearest'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='MedRandomGrayscale', prob=0.2),
    dict(type='MedGaussianBlur', sigma=(0.1, 2.0), prob=0.5),
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

train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    worker_init_fn=dict(type='mmmedssl.datasets.seed_worker'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train_val',
        with_label=False,
        pipeline=train_pipeline))
