# Binary lesion segmentation on HAM10000 at 64x64: a ResNet-18 U-Net (all
# layers fine-tuned), from random init or from a pretrained encoder (see
# _base_/models/unet_resnet18.py). The val split picks the epoch (best
# per-image lesion Dice), test reports it.
# Low-label runs: --cfg-options train_dataloader.dataset.label_fraction=0.1
# train_dataloader.dataset.fraction_seed=S.
_base_ = [
    '../../_base_/models/unet_resnet18.py',
    '../../_base_/datasets/ham10000_seg_64px.py',
    '../../_base_/default_runtime.py',
]

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
auto_scale_lr = dict(base_batch_size=32)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(
        interval=1, max_keep_ckpts=1, save_best='seg/dice', rule='greater'))
