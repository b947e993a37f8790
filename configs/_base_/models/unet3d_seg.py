# A 3D U-Net for volumetric segmentation downstream: the Models Genesis / PCRL
# 3D encoder (UNet3DEncoder, 1 -> 64@/1 ... 512@/8) and its decoder (2x2x2
# transposed convs, conv bias) with one logit map per class (1x1x1 output
# conv, no sigmoid); cross-entropy + soft Dice. Input sizes must be
# divisible by 8. A PCRL 3D checkpoint's backbone.* loads with
#   --cfg-options model.backbone.init_cfg.type=Pretrained \
#       model.backbone.init_cfg.checkpoint=CKPT \
#       model.backbone.init_cfg.prefix=backbone.
num_classes = 2
model = dict(
    type='MedUNetSegmentor',
    # Volumes are HU-windowed to [0, 1] in the pipeline (or offline), as in
    # pretraining; no normalisation.
    data_preprocessor=dict(type='MedSelfSupDataPreprocessor'),
    backbone=dict(
        type='UNet3DEncoder',
        in_channels=1,
        base_channels=32,
        num_levels=4,
        norm_cfg=dict(type='BN3d'),
        conv_bias=True),
    decoder=dict(
        type='UNetDecoder',
        in_channels=[64, 128, 256, 512],
        decoder_channels=(256, 128, 64),
        out_channels=num_classes,
        dims=3,
        upsample='deconv',
        norm_cfg=dict(type='BN3d'),
        conv_bias=True,
        out_kernel_size=1,
        out_activation=None),
    ce_weight=1.0,
    loss_dice=dict(type='SoftDiceLoss', loss_weight=1.0),
    ignore_index=255)
