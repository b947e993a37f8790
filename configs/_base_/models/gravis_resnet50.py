# GraVIS: one ResNet-50 + a 2-layer projection MLP embeds every view; the
# Smooth-AP grouping loss ranks a source's views above other sources' views.
model = dict(
    type='GraVIS',
    source_key='sample_idx',  # 'group_id': images of one lesion are positives
    shuffle_views=True,
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
        # Plain BN per device, as the released DataParallel run: view
        # shuffling is what keeps one source's views apart in its batches.
        norm_cfg=dict(type='BN'),
        zero_init_residual=False),
    neck=dict(
        type='GraVISNeck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=128,
        # The released code leaves embeddings un-normalised; see README.
        l2_normalize=True),
    head=dict(
        type='GraVISHead',
        # The paper's hardness-aware attention (not in the released code;
        # hardness_attention=None is the released objective). See README.
        loss=dict(
            type='GraVISLoss',
            temperature=0.2,
            hardness_attention='similarity',
            attention_temperature=0.5)))
