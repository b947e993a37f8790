# Copyright (c) mmmedssl contributors. All rights reserved.
"""mmmedssl: self-supervised learning for medical images, OpenMMLab style."""
import mmcv
import mmengine
import mmpretrain
from mmengine.utils import digit_version

from .utils.checkpoint import install_checkpoint_io
from .utils.compat import apply_compat_patches
from .version import __version__, version_info


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
