# MoCo v2, ResNet-18, on the synthetic surgical demo videos at 32x32: the
# baseline that the DistillingSelf demo student is compared with (same
# views, schedule and queue; no teacher). `make demo-distillingself` runs it.
_base_ = [
    '../_base_/models/mocov2_resnet18.py',
    '../_base_/datasets/demo_surgical_mocov2.py',
    '../_base_/schedules/sgd_coslr_20e_demo.py',
    '../_base_/default_runtime.py',
]

model = dict(queue_len=256)
default_hooks = dict(
    logger=dict(interval=5), checkpoint=dict(interval=10, max_keep_ckpts=2))
