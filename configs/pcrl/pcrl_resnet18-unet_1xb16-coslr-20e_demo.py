# PCRL 2D on the embedded demo set: ResNet-18 U-Net at 32x32, a few minutes
# on 2 CPU cores (`python tools/dataset_converters/make_demo_data.py --out
# data/demo_derm` first).
_base_ = [
    '../_base_/models/pcrl_resnet18_unet.py',
    '../_base_/datasets/demo_derm_pcrl.py',
    '../_base_/default_runtime.py',
]

max_epochs = 20
# 288 training images: a memory of 256 keys keeps the negatives fresh.
# A faster momentum encoder (0.99), a 256-key memory and InfoNCE suit a
# 360-step run on 288 images: with the released C2L NCE the negatives'
# scores ran away here (nce_plain 6.8 -> 33.8, kNN 31.67 %); see README.
model = dict(
    momentum=0.01,
    head=dict(
        memory_size=256,
        contrast_loss=dict(
            _delete_=True, type='InfoNCELoss', temperature=0.2)))

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
