# Copyright (c) mmmedssl contributors. All rights reserved.
"""mim against the editable install: ``mim search`` reads the metafiles,
``mim train`` and ``mim test`` run the tools on a tiny config, and
``mim download`` fails (no weights are published).

The ``mim`` commands of docs/publishing.md are run as written, with the demo
config and work dir swapped for the tiny ones."""
import json
import os
import os.path as osp
import re
import sys

import pytest
import yaml

from ..conftest import REPO_ROOT, run_tool, tiny_config_text

MIM = osp.join(osp.dirname(sys.executable), 'mim')
DOC = osp.join(REPO_ROOT, 'docs', 'publishing.md')
DEMO_CONFIG = 'configs/mocov2/mocov2_resnet18_1xb32-coslr-40e_demo.py'


def documented_commands(marker: str) -> list:
    """The command lines between ``<!-- marker:begin -->`` and
    ``<!-- marker:end -->`` of docs/publishing.md."""
    with open(DOC, encoding='utf-8') as f:
        text = f.read()
    block = text.split(f'<!-- {marker}:begin -->')[1].split(
        f'<!-- {marker}:end -->')[0]
    return [line for line in block.splitlines()
            if line and not line.startswith(('```', '#'))]


def mim(args: list, check=True):
    if not osp.isfile(MIM):
        raise AssertionError(
            f'{MIM} is missing: install openmim with `pip install --no-deps '
            '-r requirements/mim.txt` (see the Makefile).')
    # One thread: the tiny model's ops are too small to share out, and on a
    # busy machine the threads only wait for each other.
    return run_tool([MIM, *args], check=check,
                    env=dict(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1'))


def metafile_models() -> dict:
    with open(osp.join(REPO_ROOT, 'model-index.yml')) as f:
        imports = yaml.safe_load(f)['Import']
    models = {}
    for rel in imports:
        with open(osp.join(REPO_ROOT, rel)) as f:
            for model in yaml.safe_load(f)['Models']:
                models[model['Name']] = model
    return models


def test_mim_search_lists_the_metafile_models_and_their_results():
    search, by_field = documented_commands('mim-commands')[:2]
    out = mim(search.split()[1:]).stdout
    listed = re.findall(r'^config id: (\S+)', out, flags=re.M)
    assert sorted(listed) == sorted(metafile_models())
    # Every result value is printed: a long dataset/metric name pushes the
    # value out of mim's column.
    values = re.findall(r'^\S+.*/\S+ +(\d+(?:\.\d+)?)$', out, flags=re.M)
    expected = [metric for model in metafile_models().values()
                for result in model.get('Results') or []
                for metric in result['Metrics'].values()]
    assert sorted(map(float, values)) == sorted(map(float, expected))

    out = mim(by_field.split()[1:]).stdout
    shown = dict(re.findall(r'^config id: (\S+)\n(?:\S.*\n)*?'
                            r'ham10000/linear_probe_balanced_acc +(\S+)',
                            out, flags=re.M))
    # The MoCo v2 models with a HAM10000 linear probe, and no others.
    assert shown == {'mocov2_resnet18_1xb64-coslr-20e_ham10000-64px': '41.42'}
    assert 'gravis' not in out


def test_mim_download_fails_without_published_weights(tmp_path):
    assert not any('Weights' in m for m in metafile_models().values())
    proc = mim(['download', 'mmmedssl', '--config',
                'mocov2_resnet18_1xb32-coslr-40e_demo', '--dest',
                str(tmp_path)], check=False)
    assert proc.returncode != 0
    assert "but got {'weight'}" in proc.stdout


# mim's click shim reads click.__version__, which click 8.3 deprecates.
@pytest.mark.filterwarnings('ignore::DeprecationWarning')
def test_mim_finds_a_bare_config_name_in_the_package():
    # What `mim train mmmedssl NAME.py` does when NAME.py is not a path.
    from mim.utils import get_installed_path, recursively_find
    found = recursively_find(get_installed_path('mmmedssl'),
                             osp.basename(DEMO_CONFIG), followlinks=True)
    assert len(found) == 1
    assert osp.realpath(found[0]) == osp.join(REPO_ROOT, DEMO_CONFIG)


def _swap(command: str, config: str, work_dir: str) -> list:
    command = command.replace(DEMO_CONFIG, config)
    command = command.replace('work_dirs/demo', work_dir)
    return command.replace('epoch_40', 'epoch_1').split()[1:]


def test_mim_train_then_mim_test(tmp_path, tiny_demo_data):
    """One epoch of 4 iterations through ``mim train``, then ``mim test``
    on its checkpoint: the test metrics are the val metrics of that epoch
    (same weights, same images, k = 1 so that they are not 0)."""
    from mmmedssl.utils import safe_load
    config = tmp_path / 'tiny.py'
    config.write_text(tiny_config_text(tiny_demo_data))
    work_dir = str(tmp_path / 'wd')
    train, test = documented_commands('mim-commands')[2:4]

    out = mim(_swap(train, str(config), work_dir) + [
        'train_cfg.max_epochs=1', 'val_evaluator.k=1']).stdout
    assert 'Training finished successfully' in out
    checkpoint = safe_load(osp.join(work_dir, 'epoch_1.pth'))
    assert checkpoint['meta']['epoch'] == 1
    assert checkpoint['meta']['iter'] == 4

    out = mim(_swap(test, str(config), work_dir) +
              ['--cfg-options', 'test_evaluator.k=1']).stdout
    assert 'Testing finished successfully' in out
    printed = dict(re.findall(r'(knn/(?:top1|balanced_acc)): (\S+)',
                              out.split('Epoch(test)')[-1]))
    scalars = [osp.join(work_dir, d, 'vis_data', 'scalars.json')
               for d in sorted(os.listdir(work_dir))
               if re.fullmatch(r'\d{8}_\d{6}', d)]
    val = [json.loads(line) for line in open(scalars[0])
           if 'knn/top1' in line][-1]
    assert set(printed) == {'knn/top1', 'knn/balanced_acc'}
    for key, value in printed.items():
        assert float(value) == pytest.approx(val[key], abs=1e-3), key
