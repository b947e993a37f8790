# DistillingSelf stage A with torchvision's ImageNet ResNet-18
# (data/pretrained/resnet18-f37072fd.pth): the CPU-sized teacher.
_base_ = ['./distillingself_teacher_resnet50.py']

model = dict(
    backbone=dict(
        depth=18,
        init_cfg=dict(checkpoint='data/pretrained/resnet18-f37072fd.pth')),
    neck=dict(in_channels=512, hid_channels=512))
