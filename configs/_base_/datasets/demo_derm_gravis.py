# The embedded demo set (tools/dataset_converters/make_demo_data.py):
# 64x64 synthetic lesion photos, pretrained at 32x32 with a few GraVIS views.
# Val/test loaders (kNN monitor) come from demo_derm_mocov2.py.
_base_ = ['./demo_derm_mocov2.py']

dataset_type = 'MedImageList'
data_root = 'data/demo_derm'
crop_size = 32  # GraVIS: 224 px
num_views = 4  # GraVIS: 20 views per image
# Cutout holes scale with the crop: 32 px at 224 px as in GraVIS (1/7 of
# the side), so 4 px here; 32 px holes would erase the whole view. A child
# config that changes crop_size must set it too.
cutout_size = crop_size // 7
# Must equal model.data_preprocessor's mean / bgr_to_rgb: MedCutout fills
# its holes with this mean so that they are exactly 0 after normalisation.
norm_mean = [123.675, 116.28, 103.53]

# GraVIS' released per-view recipe, in its order; the blur's sigma is scaled
# down with the image (2 px of blur at 224 px is about 0.3 px at 32 px).
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
    dict(type='MedGaussianBlur', sigma=(0.1, 2.0 * crop_size / 224),
         prob=0.5),
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
