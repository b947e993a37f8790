# A 2D U-Net for segmentation downstream: a ResNet-18 encoder
# (ResNetWithStem: stem 64@/2, stages 64@/4 ... 512@/32) and PCRL's decoder
# (segmentation_models_pytorch's ResNet U-Net decoder) with one logit map per
# class; cross-entropy + soft Dice. Input sizes must be divisible by 32.
# Start the encoder from any mmmedssl or mmpretrain checkpoint with
#   --cfg-options model.backbone.init_cfg.type=Pretrained \
#       model.backbone.init_cfg.checkpoint=CKPT \
#       model.backbone.init_cfg.prefix=backbone.
# (the backbone.* keys of MoCo v2, GraVIS, PCRL and DistillingSelf
# checkpoints; model.backbone.init_cfg.converter=torchvision_resnet for a
# torchvision file); without them it starts at random init, the baseline.
# The decoder always starts at random init.
num_classes = 2  # background, lesion
model = dict(
    type='MedUNetSegmentor',
    data_preprocessor=dict(
        type='MedSelfSupDataPreprocessor',
        # ImageNet statistics in RGB order, as the pretraining configs.
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='ResNetWithStem',
        depth=18,
        in_channels=3,
        norm_cfg=dict(type='BN'),
        zero_init_residual=False),
    decoder=dict(
        type='UNetDecoder',
        in_channels=[64, 64, 128, 256, 512],
        decoder_channels=(256, 128, 64, 32, 16),
        out_channels=num_classes,
        dims=2,
        upsample='nearest',
        norm_cfg=dict(type='BN'),
        out_kernel_size=3,
        out_activation=None),
    ce_weight=1.0,
    loss_dice=dict(type='SoftDiceLoss', loss_weight=1.0),
    ignore_index=255)
