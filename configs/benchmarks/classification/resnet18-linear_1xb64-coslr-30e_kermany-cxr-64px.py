# Linear evaluation on the Kermany chest X-rays through the Runner: the
# fine-tuning config with the whole backbone frozen (frozen_stages=4,
# BatchNorm in eval mode); only the linear head learns.
# tools/analysis_tools/linear_probe.py is the faster, L-BFGS version of the
# same protocol.
_base_ = ['./resnet18_1xb64-coslr-30e_kermany-cxr-64px.py']

model = dict(backbone=dict(frozen_stages=4, norm_eval=True))
optim_wrapper = dict(optimizer=dict(lr=0.5, weight_decay=0.))
