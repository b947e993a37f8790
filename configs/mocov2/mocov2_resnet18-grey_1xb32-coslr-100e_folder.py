# MoCo v2, ResNet-18 with ONE input channel, on a folder of grey medical
# images (DICOM, 2D NIfTI, 8/16-bit PNG/TIFF; e.g. chest X-rays) at 224 px:
#   python tools/train.py \
#       configs/mocov2/mocov2_resnet18-grey_1xb32-coslr-100e_folder.py \
#       --cfg-options train_dataloader.dataset.data_root=PATH/TO/IMAGES
# LoadMedImage applies each DICOM's rescale and window and inverts
# MONOCHROME1 (see configs/_base_/datasets/grey_mocov2.py). No val loop.
_base_ = ['./mocov2_resnet18_1xb32-coslr-100e_folder.py']

load_pipeline = [
    dict(type='LoadMedImage', channels=1, to_uint8=True, window=None)
]
view_pipeline = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.2, 1.)),
    dict(
        type='RandomApply',
        transforms=[
            dict(type='MedColorJitter', brightness=0.4, contrast=0.4)
        ],
        prob=0.8),
    dict(type='MedGaussianBlur', sigma=(0.1, 2.0), prob=0.5),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
train_dataloader = dict(
    dataset=dict(
        extensions=('.dcm', '.nii', '.nii.gz', '.png', '.tif', '.tiff',
                    '.jpg', '.jpeg'),
        pipeline=load_pipeline + [
            dict(type='MedMultiView', num_views=2,
                 transforms=[view_pipeline]),
            dict(type='PackMedInputs'),
        ]))
model = dict(
    backbone=dict(in_channels=1),
    # One grey channel: mid-grey mean, no colour-order swap.
    data_preprocessor=dict(mean=[127.5], std=[64.], bgr_to_rgb=False))
