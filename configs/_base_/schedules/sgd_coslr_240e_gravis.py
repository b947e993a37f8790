# GraVIS' released schedule: SGD lr 1e-3, momentum 0.9, no weight decay,
# cosine decay per epoch over 240 epochs (the released loop also ran a
# 241st epoch at lr 0, which we leave out).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=0.))

param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=240, by_epoch=True, begin=0, end=240)
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=240)
