# PCRL 2D, the paper's setting: ResNet-18 U-Net on NIH ChestX-ray14, 224 px,
# global batch 64 (4 GPUs x 16), SGD lr 1e-3, wd 1e-4, cosine, 240 epochs,
# mixed precision (torch.amp; the released code used apex O1). Without CUDA
# it runs in fp32 (mmmedssl.apis.build_runner warns).
_base_ = [
    '../_base_/models/pcrl_resnet18_unet.py',
    '../_base_/datasets/chestxray14_pcrl.py',
    '../_base_/schedules/sgd_coslr_240e_pcrl.py',
    '../_base_/default_runtime.py',
]

# The released n_data: batches per epoch of the 78,468-image list at 64.
# It cancels out of the NCE ratios (see C2LNCELoss); kept for fidelity.
model = dict(head=dict(contrast_loss=dict(num_data=1226)))

# The released pretraining list (the 70 % part of a CheXNet-style random
# 70/10/20 split, which ignores the official test list):
# pytorch/train_val_txt/chest_train.txt of Luchixiang/PCRL, copied to
# data_root. The list draws from the whole set (split='all'); set
# split='train_val' and drop image_list to keep the official test list out.
train_dataloader = dict(
    batch_size=16, dataset=dict(split='all', image_list='chest_train.txt'))

optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=64)
