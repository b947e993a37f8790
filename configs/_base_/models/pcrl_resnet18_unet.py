# PCRL 2D: a ResNet-18 U-Net (segmentation_models_pytorch's layout) with a
# momentum encoder, a 16,384-key NCE memory and four reconstructions.
model = dict(
    type='PCRL',
    momentum=0.001,  # mmengine convention: weight of the new value (=0.999)
    mix_beta=1.0,  # lambda, alpha = max(u, 1 - u), u ~ Beta(1, 1)
    shuffle_bn=True,
    data_preprocessor=dict(
        type='MedSelfSupDataPreprocessor',
        # ImageNet statistics in RGB order (images are loaded as BGR), as the
        # released code normalises every input and target.
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='ResNetWithStem',  # returns the stem too: 64@/2 ... 512@/32
        depth=18,
        in_channels=3,
        norm_cfg=dict(type='BN'),
        zero_init_residual=False),
    neck=dict(
        type='PCRLNeck',
        in_channels=512,
        hid_channels=128,
        out_channels=128,
        code_dim=6,  # [flip H, flip W, one-hot k of the k*90 rotation]
        gate_hid_channels=256),
    decoder=dict(
        type='UNetDecoder',
        in_channels=[64, 64, 128, 256, 512],
        decoder_channels=(256, 128, 64, 32, 16),
        out_channels=3,
        dims=2,
        upsample='nearest',
        norm_cfg=dict(type='BN'),
        out_kernel_size=3,
        out_activation=None),  # regression to normalised intensities
    head=dict(
        type='PCRLHead',
        memory_size=16384,
        feat_dim=128,
        memory_init='uniform',
        # The released C2L/CMC NCE; dict(type='InfoNCELoss', temperature=0.2)
        # is the InfoNCE alternative.
        contrast_loss=dict(type='C2LNCELoss', temperature=0.2, num_data=1000),
        contrast_weight=1.0,
        recon_weight=1.0))
