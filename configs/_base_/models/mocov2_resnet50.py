# MoCo v2 (mmpretrain's MoCo with the v2 neck) on a ResNet-50, the paper's
# setting; mocov2_resnet18.py derives the smaller variant from it.
model = dict(
    type='MedMoCo',
    queue_len=65536,
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
        in_channels=3,
        out_indices=[3],
        norm_cfg=dict(type='BN'),
        zero_init_residual=False),
    neck=dict(
        type='MoCoV2Neck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=128,
        with_avg_pool=True),
    head=dict(
        type='ContrastiveHead',
        loss=dict(type='CrossEntropyLoss'),
        temperature=0.2))
