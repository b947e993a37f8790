# DistillingSelf stage B: a fresh MoCo v2 ResNet-50 student distilled from
# the stage-A teacher (set model.teacher_checkpoint in the config).
_base_ = ['./distillingself_teacher_resnet50.py']

model = dict(
    _delete_=True,
    type='DistillingSelf',
    # Both the teacher's and the student's query scored against the
    # teacher's key and queue ('own' = the released per-model queues).
    negatives='teacher',
    queue_len=2048,
    feat_dim=128,
    momentum=0.001,
    data_preprocessor={{_base_.model.data_preprocessor}},
    backbone=dict(
        type='ResNet',
        depth=50,
        out_indices=[3],
        norm_cfg=dict(type='BN'),
        zero_init_residual=False),
    neck=dict(
        type='MoCoV2Neck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=128,
        with_avg_pool=True),
    # The released loss was 2 * L_con + 5 * KL (a `loss += loss + ...`
    # slip); these weights reproduce it.
    head=dict(
        type='DistillContrastiveHead',
        temperature=0.2,
        contrastive_weight=2.0,
        distill_weight=5.0),
    teacher={{_base_.model}},
    teacher_checkpoint=None)
