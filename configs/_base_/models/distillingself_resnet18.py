# DistillingSelf stage B with a ResNet-18 student and a ResNet-18 teacher.
_base_ = ['./distillingself_resnet50.py']

resnet18 = dict(depth=18)
projection = dict(in_channels=512, hid_channels=512)
model = dict(
    backbone=resnet18,
    neck=projection,
    teacher=dict(
        backbone=dict(
            depth=18,
            init_cfg=dict(
                checkpoint='data/pretrained/resnet18-f37072fd.pth')),
        neck=projection))
