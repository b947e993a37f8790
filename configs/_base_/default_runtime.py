# Runtime settings shared by every mmmedssl config.
default_scope = 'mmmedssl'

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
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
    window_size=10,
    custom_cfg=[dict(data_src='', method='mean', window_size='global')])

log_level = 'INFO'
load_from = None
# Share of the model's tensors that `load_from` must fill (names and shapes
# matching); fewer is an error. 1: all of them; 0 accepts any file.
load_from_min_match = 1.0
resume = False

# A fixed seed by default: medical experiments are compared across runs.
randomness = dict(seed=0, diff_rank_seed=True, deterministic=False)
