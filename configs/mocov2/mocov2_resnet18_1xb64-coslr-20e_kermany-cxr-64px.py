# MoCo v2, ResNet-18, on the Kermany paediatric chest X-rays
# (../shared/data/chest_xray_pneumonia_224, 4,707 training images) at 64 px:
# sized for a CPU (2 cores, about 15 minutes). kNN monitoring on the val
# patients; evaluate with tools/analysis_tools/linear_probe.py or the
# configs in configs/benchmarks/classification.
_base_ = [
    '../_base_/models/mocov2_resnet18.py',
    '../_base_/datasets/kermany_cxr_mocov2_64px.py',
    '../_base_/schedules/sgd_coslr_200e.py',
    '../_base_/default_runtime.py',
]

max_epochs = 20

# 2,048 keys = 44 % of an epoch (4,096 would hold 87 % of the images).
model = dict(queue_len=2048)

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
default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=2))
