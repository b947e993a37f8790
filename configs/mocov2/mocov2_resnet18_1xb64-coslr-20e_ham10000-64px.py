# MoCo v2, ResNet-18, on HAM10000 at 64x64: sized for a CPU (2 cores).
_base_ = [
    '../_base_/models/mocov2_resnet18.py',
    '../_base_/datasets/ham10000_mocov2_64px.py',
    '../_base_/schedules/sgd_coslr_200e.py',
    '../_base_/default_runtime.py',
]

max_epochs = 20

model = dict(queue_len=4096)

optim_wrapper = dict(optimizer=dict(lr=0.06))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        by_epoch=True,
        begin=0,
        end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
auto_scale_lr = dict(base_batch_size=64)
default_hooks = dict(checkpoint=dict(interval=5))
