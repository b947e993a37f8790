# Fine-tuning a ResNet-18 on the Kermany paediatric chest X-rays at 64x64
# (all layers, NORMAL vs PNEUMONIA), from random init or from a pretrained
# checkpoint (see _base_/models/resnet18_cls.py); the val split (10 % of the
# training patients) picks the epoch (best balanced accuracy), the official
# test set reports it.
# Low-label runs: --cfg-options train_dataloader.dataset.label_fraction=0.1
# train_dataloader.dataset.fraction_seed=S (whole patients, per class).
_base_ = [
    '../../_base_/models/resnet18_cls.py',
    '../../_base_/datasets/kermany_cxr_cls_64px.py',
    '../../_base_/default_runtime.py',
]

model = dict(head=dict(num_classes=2))
max_epochs = 30
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        by_epoch=True,
        begin=0,
        end=max_epochs)
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
auto_scale_lr = dict(base_batch_size=64)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(
        interval=1, max_keep_ckpts=1, save_best='cls/balanced_acc',
        rule='greater'))
