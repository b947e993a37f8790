# DistillingSelf stage B, ResNet-18, 64 px, on a CPU: the recipe for a
# grey X-ray set of any size (the Kermany chest X-rays here): a fresh MoCo v2 student distilled from
# the stage-A teacher of distillingself-teacher_resnet18_1xb64-coslr-1k_kermany-cxr-64px.py,
# trained on the same data first. Sized by the data (docs/training.md,
# "Recipes that follow the data"): at least 1,000 steps, student and
# teacher queues of at most 1/8 of the training images (the same length
# as in stage A, so the teacher's queue loads), lr linear in the batch.
# Views as in the MoCo v2 chest X-ray configs.
_base_ = [
    '../_base_/models/distillingself_resnet18.py',
    '../_base_/datasets/kermany_cxr_mocov2_64px.py',
    '../_base_/schedules/sgd_coslr_200e_distillingself.py',
    '../_base_/default_runtime.py',
]

model = dict(
    queue_len=4096,  # the caps; the recipe shortens them
    teacher=dict(queue_len=4096),
    teacher_checkpoint='work_dirs/distillingself-teacher_resnet18_1xb64-coslr-1k_kermany-cxr-64px/last_checkpoint')
max_epochs = 4  # the floor; a small set trains more epochs (4 checkpoints)
data_size_recipe = dict(min_steps=1000, memory_fraction=1 / 8)
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        by_epoch=True,
        begin=0,
        end=max_epochs)
]
optim_wrapper = dict(optimizer=dict(lr=0.03))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
auto_scale_lr = dict(base_batch_size=64)
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2))
