# PCRL (2D), ResNet-18 U-Net, 64 px, on a CPU: the recipe for a grey X-ray
# set of any size (the Kermany chest X-rays here; point
# train_dataloader.dataset at your own list or folder). Sized by the data
# (docs/training.md, "Recipes that follow the data"): at least 1,000
# optimizer steps, an NCE memory of at most 1/8 of the training images, lr
# linear in the batch. Views, batch and optimiser as the MoCo v2 grey
# recipe, the rule the colour recipe was measured on (docs/benchmarks.md).
_base_ = [
    './pcrl_resnet18-unet_1xb32-coslr-3e_kermany-cxr-64px.py',
    '../_base_/datasets/mocov2_views_64px.py',
]

max_epochs = 4  # the floor; a small set trains more epochs (4 checkpoints)
data_size_recipe = dict(min_steps=1000, memory_fraction=1 / 8)
model = dict(momentum=0.001)  # 0.999, as MoCo v2
# MoCo v2's batch and optimiser: on 1,600 dermoscopy images batch 64 (lr
# 0.06) scored 81.25 +- 0.60 probe AUC over three seeds, batch 32 (lr 0.03)
# 80.80 +- 0.42; only batch 64 is beyond the random-init spread.
optim_wrapper = dict(optimizer=dict(lr=0.06))
auto_scale_lr = dict(base_batch_size=64)

# MoCo v2's grey views: its crop, then its photometric part (the crop is
# the clean target).
input_transforms = {{_base_.mocov2_grey_after_crop}}
train_dataloader = dict(
    batch_size=64,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(
            type='PCRLViews',
            spatial_transforms={{_base_.mocov2_crop_64px}},
            input_transforms=input_transforms,
            target_transform=dict(
                type='RandomFlipRot90', spatial_dims=2, make_target=False)),
        dict(type='PackMedInputs', algorithm_keys=['aug_code']),
    ]))
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
