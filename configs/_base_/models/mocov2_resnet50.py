# MoCo v2 (mmpretrain's MoCo with the v2 neck) on a ResNet-50.
_base_ = './mocov2_resnet18.py'

model = dict(
    backbone=dict(depth=50),
    neck=dict(in_channels=2048, hid_channels=2048))
