# The released DistillingSelf schedule (both stages): SGD, lr 0.01 for a
# global batch of 128 (4 GPUs x 32), momentum 0.9, weight decay 1e-4, cosine
# decay per epoch over 200 epochs.
_base_ = ['./sgd_coslr_200e.py']

optim_wrapper = dict(optimizer=dict(lr=0.01))
auto_scale_lr = dict(base_batch_size=128)
