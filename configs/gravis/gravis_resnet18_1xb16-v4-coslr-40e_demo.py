# GraVIS on the embedded demo set: ResNet-18 at 32x32, 4 views per image,
# a few minutes on 2 CPU cores.
_base_ = [
    '../_base_/models/gravis_resnet18.py',
    '../_base_/datasets/demo_derm_gravis.py',
    '../_base_/default_runtime.py',
]

max_epochs = 40
# A short run from scratch needs a larger step than the released 1e-3.
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
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=10)
auto_scale_lr = dict(base_batch_size=16)

default_hooks = dict(
    logger=dict(interval=3),
    checkpoint=dict(interval=10, max_keep_ckpts=2))
