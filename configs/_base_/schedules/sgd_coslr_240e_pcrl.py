# PCRL's released schedule: SGD lr 1e-3, momentum 0.9, weight decay 1e-4,
# cosine decay per epoch over 240 epochs (the released loop ran one more
# epoch at lr 0 and stopped at 242; we leave that out).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=1e-4))

param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=240, by_epoch=True, begin=0, end=240)
]

train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=240)
