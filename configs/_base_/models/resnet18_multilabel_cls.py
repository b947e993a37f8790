# A ResNet-18 multi-label classifier (mmpretrain's ImageClassifier with a
# MultiLabelLinearClsHead: one sigmoid per finding, binary cross-entropy)
# for downstream evaluation on ChestX-ray14. Start it from any mmmedssl or
# mmpretrain checkpoint with
#   --cfg-options model.backbone.init_cfg.type=Pretrained \
#       model.backbone.init_cfg.checkpoint=CKPT \
#       model.backbone.init_cfg.prefix=backbone.
# (add model.backbone.init_cfg.converter=torchvision_resnet for a torchvision
# file); without them the backbone starts at random init, the baseline row.
# The head builds its multi-hot targets from gt_label, the list of positive
# class indices (an empty list for "No Finding").
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        # ImageNet statistics in RGB order, as the pretraining configs.
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='ResNet',
        depth=18,
        out_indices=[3],
        norm_cfg=dict(type='BN'),
        zero_init_residual=False),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='MultiLabelLinearClsHead',
        num_classes=14,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss', use_sigmoid=True)))
