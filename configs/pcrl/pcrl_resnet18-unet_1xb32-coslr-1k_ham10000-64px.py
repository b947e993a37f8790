# PCRL (2D), ResNet-18 U-Net, 64 px, on a CPU: the recipe for a colour
# photo set of any size (HAM10000 here; point train_dataloader.dataset at
# your own list or folder). Sized by the data (docs/training.md, "Recipes
# that follow the data"): at least 1,000 optimizer steps, an NCE memory of
# at most 1/8 of the training images, lr linear in the batch;
# colour-preserving views as in the 2-epoch config.
_base_ = ['./pcrl_resnet18-unet_1xb32-coslr-2e_ham10000-64px.py']

max_epochs = 4  # the floor; a small set trains more epochs (4 checkpoints)
data_size_recipe = dict(min_steps=1000, memory_fraction=1 / 8)
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
