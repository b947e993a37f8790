# MoCo v2, ResNet-18, 64 px, on a CPU: the recipe for a colour photo set of
# any size (HAM10000 here; point train_dataloader.dataset at your own list
# or folder). Sized by the data (docs/training.md, "Recipes that follow the
# data"): at least 1,000 optimizer steps, a queue of at most 1/8 of the
# training images, lr linear in the batch. Colour is kept (no hue jitter,
# no greyscale): on dermoscopy the released views throw away the colour cue
# and lose to random init (docs/benchmarks.md).
_base_ = ['./mocov2_resnet18_1xb64-coslr-20e_ham10000-64px.py']

crop_size = 64
max_epochs = 4  # the floor; a small set trains more epochs (4 checkpoints)
data_size_recipe = dict(min_steps=1000, memory_fraction=1 / 8)

view_pipeline = [
    dict(type='RandomResizedCrop', scale=crop_size, crop_ratio_range=(0.2, 1.)),
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
        magnitude_range=(0.1, 0.6),
        magnitude_std='inf',
        prob=0.5),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
]
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='MedMultiView', num_views=2, transforms=[view_pipeline]),
        dict(type='PackMedInputs'),
    ]))
model = dict(queue_len=4096)  # the cap; the recipe shortens it
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        by_epoch=True,
        begin=0,
        end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2))
