# GraVIS on a ResNet-18: the paper's ResNet-50 model with the depth and the
# projection's input width (512 features) changed.
_base_ = ['./gravis_resnet50.py']

model = dict(
    backbone=dict(depth=18),
    neck=dict(in_channels=512, hid_channels=512))
