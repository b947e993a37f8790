# DistillingSelf stage B on Cholec80 (videos 1-40), as released: a fresh MoCo
# v2 ResNet-50 trained with 2 * InfoNCE + 5 * KL(teacher || student), teacher =
# the stage-A model below. 4 GPUs x 32, 224 px, K 2048, 200 epochs.
_base_ = [
    '../_base_/models/distillingself_resnet50.py',
    '../_base_/datasets/cholec80_mocov2.py',
    '../_base_/schedules/sgd_coslr_200e_distillingself.py',
    '../_base_/default_runtime.py',
]

model = dict(
    teacher_checkpoint='work_dirs/distillingself-teacher_resnet50_4xb32-'
    'coslr-200e_cholec80/epoch_200.pth')
train_cfg = dict(val_interval=20)
default_hooks = dict(checkpoint=dict(interval=10))
