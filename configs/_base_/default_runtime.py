# Runtime settings shared by every mmmedssl config.
default_scope = 'mmmedssl'

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    # mmmedssl's LoggerHook: in epoch-based training it logs at least about
    # every 10 % of an epoch, min(interval, round(iters_per_epoch / 10)).
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # Averages BatchNorm statistics (and other buffers) over ranks at the
    # end of each epoch, so every rank holds the same model; a no-op on one
    # process.
    sync_buffers=dict(type='SyncFloatBuffersHook'),
    # Stops training at the first NaN/inf loss, before the optimizer step,
    # and at non-finite weights, before a checkpoint of them is written.
    # skip_nonfinite=N skips up to N such steps instead.
    nonfinite=dict(type='NonFiniteGuardHook', skip_nonfinite=0),
    # Saves/restores RNG states so that --resume continues exactly.
    rng_state=dict(type='RNGStateHook'),
    # At the end of training, exports the backbone for torchvision/timm
    # (where they fit; mmpretrain otherwise; plain PyTorch for the 3D
    # encoder) into WORK_DIR/exported/: docs/export.md. None disables it.
    export_backbone=dict(type='ExportBackboneHook', targets='auto'),
    # Warns when the logged embed_std stays below min_embed_std or
    # contrast_vs_chance above max_contrast_vs_chance for `patience` log
    # lines in a row (docs/training.md, "Monitoring"). None disables it.
    collapse_monitor=dict(
        type='CollapseMonitorHook',
        min_embed_std=0.05,
        max_contrast_vs_chance=0.98,
        patience=3),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # nccl on GPUs; tools/train.py switches to gloo when CUDA is absent.
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_processor = dict(
    # Losses, times and the collapse scalars are logged as their mean over
    # the last window_size iterations (mmengine logs the others as the
    # current value).
    window_size=10,
    mean_pattern=r'.*(loss|time|data_time|grad_norm|embed_std|'
    r'contrast_vs_chance).*',
    # And beside the windowed loss, its mean over the epoch so far
    # (`loss_epoch`: at the epoch's last log line, the epoch's mean loss).
    # Iteration-based loops (log_processor.by_epoch=False) need a window
    # other than 'epoch', e.g. 'global'.
    custom_cfg=[
        dict(
            data_src='loss',
            log_name='loss_epoch',
            method_name='mean',
            window_size='epoch')
    ])

log_level = 'INFO'
load_from = None
# Share of the model's tensors that `load_from` must fill (names and shapes
# matching); fewer is an error. 1: all of them; 0 accepts any file.
load_from_min_match = 1.0
resume = False

# A fixed seed by default: medical experiments are compared across runs.
randomness = dict(seed=0, diff_rank_seed=True, deterministic=False)
