# DistillingSelf stage B on the Kermany chest X-rays at 64 px (CPU, about
# 10 minutes): a fresh MoCo v2 ResNet-18 (same views as
# configs/mocov2/mocov2_resnet18_1xb64-coslr-20e_kermany-cxr-64px.py)
# distilled from the stage-A teacher; run the teacher config first.
_base_ = [
    '../_base_/models/distillingself_resnet18.py',
    '../_base_/datasets/kermany_cxr_mocov2_64px.py',
    '../_base_/schedules/sgd_coslr_200e_distillingself.py',
    '../_base_/default_runtime.py',
]

max_epochs = 8
model = dict(
    queue_len=2048,
    teacher=dict(queue_len=2048),
    teacher_checkpoint='work_dirs/distillingself-teacher_resnet18_1xb64-'
    'coslr-5e_kermany-cxr-64px/epoch_5.pth')
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
