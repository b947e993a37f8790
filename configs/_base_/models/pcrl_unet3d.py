# PCRL 3D: the Models Genesis 3D U-Net (1 -> 32 -> ... -> 512, transposed
# convs, sigmoid output) with the same algorithm as in 2D.
model = dict(
    type='PCRL',
    momentum=0.001,  # mmengine convention: weight of the new value (=0.999)
    mix_beta=1.0,
    shuffle_bn=True,
    # Crops are already HU-windowed and scaled to [0, 1] offline
    # (tools/dataset_converters/luna_crop_pairs.py); no normalisation.
    data_preprocessor=dict(type='MedSelfSupDataPreprocessor'),
    backbone=dict(
        type='UNet3DEncoder',
        in_channels=1,
        base_channels=32,
        num_levels=4,
        norm_cfg=dict(type='BN3d'),
        conv_bias=True),
    neck=dict(
        type='PCRLNeck',
        in_channels=512,
        hid_channels=128,
        out_channels=128,
        code_dim=7,  # [flip x3, one-hot k of the k*90 rotation]
        gate_hid_channels=256),
    decoder=dict(
        type='UNetDecoder',
        in_channels=[64, 128, 256, 512],
        decoder_channels=(256, 128, 64),
        out_channels=1,
        dims=3,
        upsample='deconv',
        norm_cfg=dict(type='BN3d'),
        conv_bias=True,
        out_kernel_size=1,
        out_activation='sigmoid'),
    head=dict(
        type='PCRLHead',
        memory_size=16384,
        feat_dim=128,
        memory_init='uniform',
        contrast_loss=dict(type='C2LNCELoss', temperature=0.2, num_data=1000),
        contrast_weight=1.0,
        recon_weight=1.0))
