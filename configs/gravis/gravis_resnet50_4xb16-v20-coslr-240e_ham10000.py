# GraVIS recipe on the HAM10000 train lesions (../shared/data): ResNet-50
# from scratch, 20 views per image at 224 px, 240 epochs.
_base_ = [
    '../_base_/models/gravis_resnet50.py',
    '../_base_/datasets/ham10000_gravis.py',
    '../_base_/schedules/sgd_coslr_240e_gravis.py',
    '../_base_/default_runtime.py',
]

train_cfg = dict(max_epochs=240, val_interval=10)
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=64)
