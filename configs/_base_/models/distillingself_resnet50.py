# DistillingSelf stage B: a fresh MoCo v2 ResNet-50 student distilled from
# the stage-A teacher (set model.teacher_checkpoint in the config).
# `teacher` is the stage-A model of distillingself_teacher_resnet50.py,
# written out because a base cannot be nested under a key without replacing
# the whole model; tests/test_configs.py checks that the two stay equal.
model = dict(
    type='DistillingSelf',
    # Both the teacher's and the student's query scored against the
    # teacher's key and queue ('own' = the released per-model queues).
    negatives='teacher',
    queue_len=2048,
    feat_dim=128,
    momentum=0.001,  # mmengine convention: weight of the new value (=0.999)
    data_preprocessor=dict(
        type='MedSelfSupDataPreprocessor',
        # ImageNet statistics in RGB order (images are loaded as BGR).
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
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
    teacher=dict(
        type='DistillingSelfTeacher',
        freeze_backbone=True,
        bn_stats='reestimate',
        queue_len=2048,
        feat_dim=128,
        momentum=0.001,
        data_preprocessor=dict(
            type='MedSelfSupDataPreprocessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True),
        backbone=dict(
            type='ResNet',
            depth=50,
            out_indices=[3],
            norm_cfg=dict(type='BN'),
            zero_init_residual=False,
            init_cfg=dict(
                type='Pretrained',
                checkpoint='data/pretrained/resnet50-0676ba61.pth',
                converter='torchvision_resnet')),
        neck=dict(
            type='MoCoV2Neck',
            in_channels=2048,
            hid_channels=2048,
            out_channels=128,
            with_avg_pool=True,
            init_cfg=dict(type='Normal', std=0.01, bias=0., layer='Linear')),
        head=dict(
            type='ContrastiveHead',
            loss=dict(type='CrossEntropyLoss'),
            temperature=0.2)),
    teacher_checkpoint=None)
