# MoCo v2 on a ResNet-18: the paper's ResNet-50 model with the depth and the
# neck's input width (512 features) changed.
_base_ = ['./mocov2_resnet50.py']

model = dict(
    backbone=dict(depth=18),
    neck=dict(in_channels=512, hid_channels=512))
