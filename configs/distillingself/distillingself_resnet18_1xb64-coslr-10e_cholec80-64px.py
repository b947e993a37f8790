# DistillingSelf stage B at CPU scale: ResNet-18 student distilled from the
# 64 px stage-A teacher, Cholec80 videos 1-40 at 0.2 fps, batch 64, 10 epochs.
_base_ = [
    '../_base_/models/distillingself_resnet18.py',
    '../_base_/datasets/cholec80_mocov2_64px.py',
    '../_base_/schedules/sgd_coslr_200e_distillingself.py',
    '../_base_/default_runtime.py',
]

model = dict(
    teacher_checkpoint='work_dirs/distillingself-teacher_resnet18_1xb64-'
    'coslr-10e_cholec80-64px/epoch_10.pth')
max_epochs = 10
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        by_epoch=True,
        begin=0,
        end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
