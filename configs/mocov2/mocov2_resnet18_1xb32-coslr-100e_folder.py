# MoCo v2, ResNet-18, on a folder of unlabelled images at 224 px, one GPU:
#   python tools/train.py \
#       configs/mocov2/mocov2_resnet18_1xb32-coslr-100e_folder.py \
#       --cfg-options train_dataloader.dataset.data_root=PATH/TO/IMAGES
# No val loop (the images have no labels): every epoch only trains.
_base_ = [
    '../_base_/models/mocov2_resnet18.py',
    '../_base_/datasets/folder_mocov2.py',
    '../_base_/schedules/sgd_coslr_200e.py',
    '../_base_/default_runtime.py',
]

max_epochs = 100
# A 4,096-key queue suits folders of a few thousand images and more.
model = dict(queue_len=4096)
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        by_epoch=True,
        begin=0,
        end=max_epochs)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
