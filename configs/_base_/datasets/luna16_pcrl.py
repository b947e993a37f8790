# LUNA16 crop pairs for PCRL 3D (tools/dataset_converters/luna_crop_pairs.py
# writes them; see docs/data_preparation.md): npy files of shape
# [2, 64, 64, 32], two overlapping crops of one CT, HU-windowed to [0, 1].
# Online: the Models Genesis transforms for the inputs, the raw crops as
# clean targets, flips of 3 axes + rot90 as transformation targets (7-d
# code). No labels, so no validation loop.
dataset_type = 'CropPairDataset'
data_root = 'data/LUNA16/crop_pairs'

input_transforms = [
    dict(type='TorchIOTransform', transform='RandomFlip'),
    dict(type='TorchIOTransform', transform='RandomAffine'),
    dict(type='TorchIOTransform', transform='RandomBlur'),
    dict(type='LocalPixelShuffle', prob=0.5),
    # The same in-/out-painting choice for both crops of a pair.
    dict(type='InOutPainting', prob=0.9, inpaint_prob=0.2),
]
train_pipeline = [
    dict(type='LoadVolume'),
    dict(
        type='PCRLViews',
        views_from='pair',
        input_transforms=input_transforms,
        target_transform=dict(
            type='RandomFlipRot90', spatial_dims=3, make_target=False)),
    dict(type='PackMedInputs', spatial_dims=3, algorithm_keys=['aug_code']),
]

train_dataloader = dict(
    batch_size=4,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    worker_init_fn=dict(type='mmmedssl.datasets.seed_worker'),
    dataset=dict(
        type=dataset_type, data_root=data_root, pipeline=train_pipeline))
