# DistillingSelf stage A on Cholec80 (videos 1-40), as released: MoCo v2 on a
# frozen torchvision ImageNet ResNet-50 (data/pretrained/resnet50-0676ba61.pth),
# 4 GPUs x 32, 224 px, K 2048, T 0.2, m 0.999, 200 epochs.
_base_ = [
    '../_base_/models/distillingself_teacher_resnet50.py',
    '../_base_/datasets/cholec80_mocov2.py',
    '../_base_/schedules/sgd_coslr_200e_distillingself.py',
    '../_base_/default_runtime.py',
]

train_cfg = dict(val_interval=20)
default_hooks = dict(checkpoint=dict(interval=10))
