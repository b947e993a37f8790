# DistillingSelf stage B on the synthetic surgical demo videos: a fresh MoCo
# v2 ResNet-18 distilled from the demo teacher (run its config first, or
# `make demo-distillingself`).
_base_ = [
    '../_base_/models/distillingself_resnet18.py',
    '../_base_/datasets/demo_surgical_mocov2.py',
    '../_base_/schedules/sgd_coslr_20e_demo.py',
    '../_base_/default_runtime.py',
]

model = dict(
    queue_len=256,
    teacher=dict(queue_len=256),
    teacher_checkpoint='work_dirs/distillingself-teacher_resnet18_1xb32-'
    'coslr-20e_demo/epoch_20.pth')
default_hooks = dict(
    logger=dict(interval=5), checkpoint=dict(interval=10, max_keep_ckpts=2))
