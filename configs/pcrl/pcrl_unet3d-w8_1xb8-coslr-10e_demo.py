# PCRL 3D on synthetic CT-like crop pairs (32x32x16): a Models Genesis 3D
# U-Net at 1/4 width (8 -> ... -> 128), a few minutes on 2 CPU cores.
# `python tools/dataset_converters/make_demo_volumes.py --out
# data/demo_volumes` first. No labels, so no validation: the demo shows the
# loss terms going down.
_base_ = [
    '../_base_/models/pcrl_unet3d.py',
    '../_base_/datasets/demo_volumes_pcrl.py',
    '../_base_/default_runtime.py',
]

max_epochs = 10
model = dict(
    momentum=0.01,  # 0.99: a faster momentum encoder for an 80-step run
    backbone=dict(base_channels=8),
    neck=dict(in_channels=128, hid_channels=128),
    decoder=dict(in_channels=[16, 32, 64, 128], decoder_channels=(64, 32, 16)),
    head=dict(memory_size=256, contrast_loss=dict(num_data=8)))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, weight_decay=1e-4, momentum=0.9))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        by_epoch=True,
        begin=0,
        end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
val_cfg = None
val_dataloader = None
val_evaluator = None
auto_scale_lr = dict(base_batch_size=8)

default_hooks = dict(
    logger=dict(interval=2),
    checkpoint=dict(interval=5, max_keep_ckpts=2))
