# SGD with a cosine learning-rate decay over 200 epochs (MoCo v2 recipe).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, weight_decay=1e-4, momentum=0.9))

param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=200, by_epoch=True, begin=0, end=200)
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200)
# mmpretrain's MoCo v2 recipe uses lr 0.03 for a global batch of 256.
auto_scale_lr = dict(base_batch_size=256)
