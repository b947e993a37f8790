# 3D segmentation on the synthetic labelled demo volumes (3 classes; see
# _base_/datasets/demo_volumes_seg.py for how to write them): the Models
# Genesis / PCRL 3D U-Net, from random init or from a PCRL 3D checkpoint
# (see _base_/models/unet3d_seg.py). A smoke test of the 3D protocol on CPU;
# the val split picks the epoch (best mean foreground Dice).
_base_ = [
    '../../_base_/models/unet3d_seg.py',
    '../../_base_/datasets/demo_volumes_seg.py',
    '../../_base_/default_runtime.py',
]

model = dict(decoder=dict(out_channels=3))

max_epochs = 20
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        by_epoch=True,
        begin=0,
        end=max_epochs)
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
auto_scale_lr = dict(base_batch_size=4)
default_hooks = dict(
    logger=dict(interval=5),
    checkpoint=dict(
        interval=1, max_keep_ckpts=1, save_best='seg/dice', rule='greater'))
