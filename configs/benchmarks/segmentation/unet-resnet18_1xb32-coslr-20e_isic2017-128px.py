# ISIC 2017 Part 1 lesion segmentation at 128x128: the HAM10000 recipe
# (ResNet-18 U-Net, all layers, AdamW, cosine schedule) on the official
# train/val/test archives; the val split picks the epoch (best per-image
# lesion Dice), test reports Dice and Jaccard at the masks' resolution.
_base_ = [
    '../../_base_/models/unet_resnet18.py',
    '../../_base_/datasets/isic2017_seg_128px.py',
    '../../_base_/default_runtime.py',
]

# Full-resolution score maps would take about 100 MB per photo; only the
# label maps are needed for the metrics.
model = dict(predict_scores=False)

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
