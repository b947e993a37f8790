# HAM10000 from ../shared/data/ham10000_200x150 (see docs/data_preparation.md)
# with GraVIS' views: `num_views` augmented views of every source image.
# 200x150 dermatoscopy JPEGs; splits.csv fixes train/val/test by lesion.
# Val/test loaders (kNN monitor) come from ham10000_mocov2.py.
_base_ = ['./ham10000_mocov2.py']

dataset_type = 'MedImageList'
data_root = '../shared/data/ham10000_200x150'
crop_size = 224  # GraVIS: 224 px
num_views = 20  # GraVIS: 20 views per image
# Cutout holes scale with the crop: 32 px at 224 px as in GraVIS (1/7 of
# the side). A child config that changes crop_size must set it too.
cutout_size = crop_size // 7
# Must equal model.data_preprocessor's mean / bgr_to_rgb: MedCutout fills
# its holes with this mean so that they are exactly 0 after normalisation.
norm_mean = [123.675, 116.28, 103.53]

# GraVIS' released per-view recipe, in its order (torchvision equivalents in
# docs/benchmarks.md). Normalisation is done by the data preprocessor.
view_pipeline = [
    dict(
        type='RandomResizedCrop', scale=crop_size, crop_ratio_range=(0.2, 1.)),
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

train_dataloader = dict(
    batch_size=16,  # source images per iteration (x num_views views)
    dataset=dict(pipeline=train_pipeline))
