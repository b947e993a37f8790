# Copyright (c) mmmedssl contributors. All rights reserved.
"""The package is installed the way mim and mmmedssl:: references need."""
import os.path as osp

from mmengine.config import Config
from mmengine.utils import get_installed_path

import mmmedssl
from mmmedssl.version import parse_version_info

from .conftest import REPO_ROOT


def test_installed_path_and_mim_folder():
    root = get_installed_path('mmmedssl')
    assert osp.realpath(root) == osp.realpath(osp.dirname(mmmedssl.__file__))
    mim = osp.join(root, '.mim')
    assert osp.isfile(osp.join(mim, 'tools', 'train.py'))
    assert osp.isfile(osp.join(mim, 'model-index.yml'))
    demo = osp.join(mim, 'configs', 'mocov2',
                    'mocov2_resnet18_1xb32-coslr-40e_demo.py')
    assert osp.isfile(demo)


def test_package_config_reference(tmp_path):
    # Configs of other projects can inherit mmmedssl's by package name.
    child = tmp_path / 'child.py'
    child.write_text("_base_ = ['mmmedssl::mocov2/"
                     "mocov2_resnet18_1xb32-coslr-40e_demo.py']\n"
                     "model = dict(queue_len=64)\n")
    cfg = Config.fromfile(str(child))
    assert cfg.model.type == 'MedMoCo'
    assert cfg.model.queue_len == 64


def test_version():
    assert parse_version_info('1.2.3') == (1, 2, 3)
    assert parse_version_info('0.2.0rc1') == (0, 2, 0, 'rc1')
    assert mmmedssl.__version__ in open(
        osp.join(REPO_ROOT, 'mmmedssl', 'version.py')).read()
