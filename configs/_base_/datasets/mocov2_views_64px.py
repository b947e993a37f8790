# MoCo v2's views at 64 px, written once for every recipe that takes them:
# the MoCo v2 and DistillingSelf data bases use the whole view, the PCRL
# recipes the photometric part after their own crop (docs/training.md,
# "Recipes that follow the data"). Blur sigmas scaled down with the image
# side (224 -> 64 px).
mocov2_crop_64px = [
    dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.2, 1.)),
]
# After the jitter, both modalities blur and flip left-right alike.
mocov2_blur_hflip_64px = [
    dict(
        type='GaussianBlur',
        magnitude_range=(0.1, 0.6),
        magnitude_std='inf',
        prob=0.5),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
# Colour photos: brightness, contrast and saturation jitter, no hue jitter
# and no greyscale (colour is a cue for skin lesions); flips both ways.
mocov2_colour_after_crop = [
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='ColorJitter',
                brightness=0.4,
                contrast=0.4,
                saturation=0.4,
                hue=0.)
        ],
        prob=0.8),
] + mocov2_blur_hflip_64px + [
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
]
# Grey images: hue, saturation and greyscale do nothing, so only brightness
# and contrast jitter; no vertical flip (anatomy has an up and a down).
mocov2_grey_after_crop = [
    dict(
        type='RandomApply',
        transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4)],
        prob=0.8),
] + mocov2_blur_hflip_64px
mocov2_colour_views_64px = mocov2_crop_64px + mocov2_colour_after_crop
mocov2_grey_views_64px = mocov2_crop_64px + mocov2_grey_after_crop
