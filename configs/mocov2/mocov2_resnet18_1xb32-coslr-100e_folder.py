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
# 4,096 keys at most; a folder of fewer than 32,768 images gets a queue of
# 1/8 of its images (docs/training.md, "Recipes that follow the data"): a
# queue as long as the data set makes every query meet its own image among
# the negatives. 100 epochs of a 1,600-image folder are 5,000 steps, so the
# epochs stay; the lr stays as written (0.03 at batch 32).
model = dict(queue_len=4096)
data_size_recipe = dict(memory_fraction=1 / 8, scale_lr=False)
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
