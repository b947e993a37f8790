# DistillingSelf stage A at CPU scale: frozen torchvision ImageNet ResNet-18
# (data/pretrained/resnet18-f37072fd.pth), Cholec80 videos 1-40 at 0.2 fps,
# 64x64 views, batch 64, 10 epochs. Untested on Cholec80 itself (no copy of
# it here); the same code runs in the demo and the tests.
_base_ = [
    '../_base_/models/distillingself_teacher_resnet18.py',
    '../_base_/datasets/cholec80_mocov2_64px.py',
    '../_base_/schedules/sgd_coslr_200e_distillingself.py',
    '../_base_/default_runtime.py',
]

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
