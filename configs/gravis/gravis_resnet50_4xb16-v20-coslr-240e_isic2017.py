# GraVIS paper setting: ResNet-50 from scratch on the 2,000 ISIC 2017
# training images, 20 views per image at 224 px, 240 epochs.
# 4 GPUs x 16 source images x 20 views = 1,280 views per step; the loss is
# computed over all ranks' views. (The released run put 16 images in total
# over 4 GPUs: use 4xb4, i.e. train_dataloader.batch_size=4, to match it.)
_base_ = [
    '../_base_/models/gravis_resnet50.py',
    '../_base_/datasets/isic2017_gravis.py',
    '../_base_/schedules/sgd_coslr_240e_gravis.py',
    '../_base_/default_runtime.py',
]

train_cfg = dict(max_epochs=240, val_interval=10)
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
# lr 1e-3 is the released value; --auto-scale-lr rescales it from 64 sources.
auto_scale_lr = dict(base_batch_size=64)
