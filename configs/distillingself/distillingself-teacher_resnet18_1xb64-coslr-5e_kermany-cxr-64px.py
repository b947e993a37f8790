# DistillingSelf stage A on the Kermany chest X-rays at 64 px (CPU, about
# 4 minutes): the frozen "public" backbone with BatchNorm re-estimated and a
# new MoCo v2 head. No ImageNet weights are reachable offline, so the public
# model is MoCo v2 trained on the other shared data set (HAM10000): run
# configs/mocov2/mocov2_resnet18_1xb64-coslr-20e_ham10000-64px.py first
# (tools/benchmarks/run_benchmark.py does it in the HAM10000 study).
_base_ = [
    '../_base_/models/distillingself_teacher_resnet18.py',
    '../_base_/datasets/kermany_cxr_mocov2_64px.py',
    '../_base_/schedules/sgd_coslr_200e_distillingself.py',
    '../_base_/default_runtime.py',
]

max_epochs = 5
model = dict(
    # 2,048 keys = 44 % of an epoch (4,096 would hold 87 % of the images).
    queue_len=2048,
    # The "public generic" model: MoCo v2 trained on HAM10000
    # (configs/mocov2/mocov2_resnet18_1xb64-coslr-20e_ham10000-64px.py),
    # a different modality, as an ImageNet model is for surgery.
    backbone=dict(
        init_cfg=dict(
            checkpoint='work_dirs/mocov2_resnet18_1xb64-coslr-20e_ham10000-64px/epoch_20.pth',
            converter='mmmedssl')))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        by_epoch=True,
        begin=0,
        end=max_epochs)
]
# A short CPU run needs a larger step than the paper's 0.01 at batch 128.
optim_wrapper = dict(optimizer=dict(lr=0.03))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
auto_scale_lr = dict(base_batch_size=64)
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2))
