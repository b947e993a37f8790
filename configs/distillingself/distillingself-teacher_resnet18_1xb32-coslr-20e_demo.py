# DistillingSelf stage A on the synthetic surgical demo videos. No public
# weights are reachable offline, so the "public generic model" is the MoCo v2
# ResNet-18 that `make demo` trains on the dermatology demo set, exported to
# torchvision format by tools/model_converters/mmmedssl_to_torchvision.py
# (`make demo-distillingself` does all of it).
_base_ = [
    '../_base_/models/distillingself_teacher_resnet18.py',
    '../_base_/datasets/demo_surgical_mocov2.py',
    '../_base_/schedules/sgd_coslr_20e_demo.py',
    '../_base_/default_runtime.py',
]

# ~420 frames: a short queue keeps the negatives fresh.
model = dict(
    queue_len=256,
    backbone=dict(
        init_cfg=dict(checkpoint='work_dirs/demo_public/resnet18_demo-derm.pth')))
default_hooks = dict(
    logger=dict(interval=5), checkpoint=dict(interval=10, max_keep_ckpts=2))
