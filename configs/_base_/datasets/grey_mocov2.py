# MoCo v2 views of grey medical images (X-ray, CT/MR slices, ultrasound)
# kept as ONE channel end to end: DICOM, 2D NIfTI, 8/16-bit PNG/TIFF are
# read by LoadMedImage (DICOM rescale, window, MONOCHROME1 inverted; 16-bit
# files min-max scaled) to uint8 (H, W, 1), and PackMedInputs makes
# (1, H, W) tensors. The model must take one channel too:
#   model = dict(
#       backbone=dict(in_channels=1),
#       data_preprocessor=dict(mean=[127.5], std=[64.], bgr_to_rgb=False))
# (bgr_to_rgb=True on one channel is an error, as is a 3-value mean.)
# Photo recipes do not fit grey images: saturation/hue jitter and
# RandomGrayscale have nothing to act on (MedColorJitter raises for them on
# 1-channel images) and mmpretrain's ColorJitter/GaussianBlur need 3
# channels, so this uses brightness/contrast jitter and MedGaussianBlur.
# The images are listed in a CSV (MedImageList): set data_root and
# ann_file, e.g. with
#   --cfg-options train_dataloader.dataset.data_root=PATH
dataset_type = 'MedImageList'
data_root = 'data/grey'
crop_size = 224
# window: None uses each DICOM's own window (min-max where it has none,
# 8-bit files as stored); a fixed (center, width) for every file, e.g.
# (40, 400) for soft-tissue CT, or 'minmax'.
load_pipeline = [
    dict(type='LoadMedImage', channels=1, to_uint8=True, window=None)
]

view_pipeline = [
    dict(type='RandomResizedCrop', scale=crop_size, crop_ratio_range=(0.2, 1.)),
    dict(
        type='RandomApply',
        transforms=[
            dict(type='MedColorJitter', brightness=0.4, contrast=0.4)
        ],
        prob=0.8),
    dict(type='MedGaussianBlur', sigma=(0.1, 2.0), prob=0.5),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
train_pipeline = load_pipeline + [
    dict(type='MedMultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackMedInputs'),
]
eval_pipeline = load_pipeline + [
    dict(type='Resize', scale=(crop_size, crop_size)),
    dict(type='PackMedInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=True,  # MoCo's queue length must be a multiple of the batch
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    worker_init_fn=dict(type='mmmedssl.datasets.seed_worker'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='images.csv',
        img_key='image',
        pipeline=train_pipeline))
