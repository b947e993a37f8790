# DistillingSelf stage A: MoCo v2 whose ResNet-50 is torchvision's supervised
# ImageNet model (ResNet50_Weights.IMAGENET1K_V1), frozen; only the projection
# neck learns. BatchNorm statistics are re-estimated on the surgical frames.
# Put the file at data/pretrained/ (docs/training.md, "Public pretrained
# weights"); nothing is downloaded at run time.
model = dict(
    type='DistillingSelfTeacher',
    freeze_backbone=True,
    bn_stats='reestimate',
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
        # The released code re-initialised the projection this way.
        init_cfg=dict(type='Normal', std=0.01, bias=0., layer='Linear')),
    head=dict(
        type='ContrastiveHead',
        loss=dict(type='CrossEntropyLoss'),
        temperature=0.2))
