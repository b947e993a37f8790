# MoCo v2 views of the images in a folder (searched recursively), with no
# annotation file, no labels and no val/test loop: self-supervised
# pretraining on your own unlabelled data. Set only the folder:
#   --cfg-options train_dataloader.dataset.data_root=PATH
# (a top-level `data_root=` would not reach the dataset: config variables
# are resolved when this file is read). For splits by patient, a label
# fraction or ImageNet-style class folders, see MedImageFolder's arguments
# (group_regex, split_ratios, label_from) or list the folder with
# tools/dataset_converters/make_filelist.py.
dataset_type = 'MedImageFolder'
data_root = 'data/images'
crop_size = 224

# MoCo v2's views without its hue jitter and greyscale: in medical photos
# (dermoscopy, endoscopy, fundus) colour carries the diagnosis, and with
# them MoCo v2 and GraVIS lose to random init on dermoscopy
# (docs/benchmarks.md, "Recipes that follow the data").
view_pipeline = [
    dict(
        type='RandomResizedCrop',
        scale=crop_size,
        crop_ratio_range=(0.2, 1.)),
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
    dict(
        type='GaussianBlur',
        magnitude_range=(0.1, 2.0),
        magnitude_std='inf',
        prob=0.5),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
train_pipeline = [
    # Reads 2D files as 3-channel BGR (grey images are repeated).
    dict(type='LoadImageFromFile'),
    dict(type='MedMultiView', num_views=2, transforms=[view_pipeline]),
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
        # What LoadImageFromFile reads; DICOM/NIfTI need another loader.
        extensions=('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff'),
        pipeline=train_pipeline))
# No val/test loop: the images have no labels to monitor kNN accuracy
# with. Checkpoints are evaluated afterwards on labelled data (see
# docs/evaluation.md).
