# Linear evaluation on ChestX-ray14 through the Runner: the fine-tuning
# config with the whole backbone frozen (frozen_stages=4, BatchNorm in eval
# mode); only the 14 sigmoid outputs learn. tools/analysis_tools/
# linear_probe.py is the faster, L-BFGS version of the same protocol (one
# logistic regression per finding, weight decay by the lowest val loss).
_base_ = ['./resnet18_1xb64-coslr-30e_chestxray14-64px.py']

model = dict(backbone=dict(frozen_stages=4, norm_eval=True))
optim_wrapper = dict(optimizer=dict(lr=0.5, weight_decay=0.))
