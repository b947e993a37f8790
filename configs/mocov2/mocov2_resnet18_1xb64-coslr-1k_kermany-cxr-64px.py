# MoCo v2, ResNet-18, 64 px, on a CPU: the recipe for a grey X-ray set of
# any size (the Kermany chest X-rays here; point train_dataloader.dataset at
# your own list or folder). Sized by the data (docs/training.md, "Recipes
# that follow the data"): at least 1,000 optimizer steps, a queue of at
# most 1/8 of the training images, lr linear in the batch. Views as in the
# 20-epoch config: brightness/contrast jitter, blur, horizontal flip.
_base_ = ['./mocov2_resnet18_1xb64-coslr-20e_kermany-cxr-64px.py']

max_epochs = 4  # the floor; a small set trains more epochs (4 checkpoints)
data_size_recipe = dict(min_steps=1000, memory_fraction=1 / 8)
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
