# The "linear-style" segmentation protocol: the HAM10000 U-Net with the
# pretrained encoder frozen (no gradients, BatchNorm statistics fixed); only
# the decoder learns, so the score reflects the encoder's features.
_base_ = ['./unet-resnet18_1xb32-coslr-20e_ham10000-64px.py']

model = dict(freeze_backbone=True)
