# MoCo v2, ResNet-18, on the embedded demo set at 32x32: a few minutes on
# 2 CPU cores. `make demo` generates the data and runs this config.
_base_ = [
    '../_base_/models/mocov2_resnet18.py',
    '../_base_/datasets/demo_derm_mocov2.py',
    '../_base_/default_runtime.py',
]

max_epochs = 40
# 288 training images: a short queue keeps the negatives fresh, and a faster
# key encoder suits a short run.
model = dict(queue_len=256, momentum=0.01)

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.06, weight_decay=1e-4, momentum=0.9))
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
auto_scale_lr = dict(base_batch_size=32)

default_hooks = dict(
    logger=dict(interval=3),
    checkpoint=dict(interval=10, max_keep_ckpts=2))
