# MoCo v2, ResNet-18, 64 px, on a CPU: the recipe for a colour photo set of
# any size (HAM10000 here; point train_dataloader.dataset at your own list
# or folder). Sized by the data (docs/training.md, "Recipes that follow the
# data"): at least 1,000 optimizer steps, a queue of at most 1/8 of the
# training images, lr linear in the batch. Colour is kept (no hue jitter,
# no greyscale): on dermoscopy the released views throw away the colour cue
# and lose to random init (docs/benchmarks.md).
_base_ = [
    '../_base_/models/mocov2_resnet18.py',
    '../_base_/datasets/ham10000_mocov2_colour_64px.py',
    '../_base_/schedules/sgd_coslr_200e.py',
    '../_base_/default_runtime.py',
]

max_epochs = 4  # the floor; a small set trains more epochs (4 checkpoints)
data_size_recipe = dict(min_steps=1000, memory_fraction=1 / 8)
model = dict(queue_len=4096)  # the cap; the recipe shortens it
optim_wrapper = dict(optimizer=dict(lr=0.06))
auto_scale_lr = dict(base_batch_size=64)
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
