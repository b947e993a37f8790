# Copyright (c) mmmedssl contributors. All rights reserved.
"""mmmedssl: self-supervised learning for medical images, OpenMMLab style."""
import warnings

# Two mmcv warnings that say nothing about a run, silenced before mmcv is
# first imported (this runs first in every tool, in spawned dataloader
# workers and in DDP processes, which all import mmmedssl before mmcv):
# - mmcv-lite, installed on purpose, has no compiled ops, so importing
#   mmcv.cnn warns that MultiScaleDeformableAttention is missing; no mmmedssl
#   model uses it.
# - mmcv's adjust_color warns "Only use 'alpha' for pillow backend." on every
#   call with the pillow backend, however it is called. mmpretrain's
#   ColorJitter (pillow by default, as torchvision's jitter of the released
#   MoCo v2 recipe) passes only alpha, so there is nothing to fix at the
#   call; switching it to cv2 would change the augmentation.
warnings.filterwarnings(
    'ignore',
    message=r'Fail to import ``MultiScaleDeformableAttention``',
    category=UserWarning,
    module=r'mmcv\.cnn\.bricks\.transformer')
warnings.filterwarnings(
    'ignore',
    message=r"Only use 'alpha' for pillow backend\.",
    category=UserWarning,
    module=r'mmcv\.image\.photometric')

import mmcv  # noqa: E402
import mmengine  # noqa: E402
import mmpretrain  # noqa: E402
from mmengine.utils import digit_version  # noqa: E402

from .utils.checkpoint import install_checkpoint_io  # noqa: E402
from .utils.compat import apply_compat_patches  # noqa: E402
from .version import __version__, version_info  # noqa: E402


def _check_version(package, low: str, high: str) -> None:
    version = digit_version(package.__version__)
    if not digit_version(low) <= version < digit_version(high):
        raise RuntimeError(
            f'{package.__name__}=={package.__version__} is installed, but '
            f'mmmedssl needs {low} <= {package.__name__} < {high}. '
            'Reinstall with `pip install -r requirements/runtime.txt`.')


_check_version(mmcv, '2.0.0', '2.4.0')
_check_version(mmengine, '0.10.0', '0.11.0')
_check_version(mmpretrain, '1.2.0', '1.3.0')

# Safe (weights-only, allowlisted) checkpoint loading and atomic writes for
# every mmengine code path, as soon as mmmedssl is imported.
install_checkpoint_io()
# numpy-2 fixes for mmcv functions our pipelines use.
apply_compat_patches()

__all__ = ['__version__', 'version_info']
