# PCRL 3D, the paper's setting: Models Genesis 3D U-Net on LUNA16 crop pairs
# (64x64x32, subsets 0-6 of the released luna_train.txt scans), global
# batch 16 (4 GPUs x 4), SGD lr 1e-3, wd 1e-4, cosine, 240 epochs, mixed
# precision (fp32 without CUDA).
_base_ = [
    '../_base_/models/pcrl_unet3d.py',
    '../_base_/datasets/luna16_pcrl.py',
    '../_base_/schedules/sgd_coslr_240e_pcrl.py',
    '../_base_/default_runtime.py',
]

train_dataloader = dict(batch_size=4)
optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=16)
