# Fine-tuning a ResNet-18 on ChestX-ray14 at 64x64 (all layers, 14 findings,
# one sigmoid each), from random init or from a pretrained checkpoint (see
# _base_/models/resnet18_multilabel_cls.py); the val split (patients of the
# official train_val list) picks the epoch (best mean AUC over the
# findings), the official test list reports it.
# Low-label runs: --cfg-options train_dataloader.dataset.label_fraction=0.1
# train_dataloader.dataset.fraction_seed=S (whole patients).
_base_ = [
    '../../_base_/models/resnet18_multilabel_cls.py',
    '../../_base_/datasets/chestxray14_cls.py',
    '../../_base_/default_runtime.py',
]

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
        interval=1, max_keep_ckpts=1, save_best='cls/mean_auc',
        rule='greater'))
