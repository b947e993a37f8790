# MoCo v2, ResNet-50, on HAM10000 (../shared/data/ham10000_200x150) at 224 px:
# the MoCo v2 recipe (global batch 256, lr 0.03, 200 epochs) on 8 GPUs.
_base_ = [
    '../_base_/models/mocov2_resnet50.py',
    '../_base_/datasets/ham10000_mocov2.py',
    '../_base_/schedules/sgd_coslr_200e.py',
    '../_base_/default_runtime.py',
]

# 6,977 training images: a 4,096-key queue spans about half an epoch.
model = dict(queue_len=4096, backbone=dict(norm_cfg=dict(type='SyncBN')))
train_cfg = dict(val_interval=10)
default_hooks = dict(checkpoint=dict(interval=10))
