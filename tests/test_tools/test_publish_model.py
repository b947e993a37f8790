# Copyright (c) mmmedssl contributors. All rights reserved.
"""tools/misc/publish_model.py and ``mmmedssl.utils.publish`` on a tiny
two-epoch run trained in-process: the file's name is its sha256, training
state is gone, the weights are unchanged, and the receipt's fields agree
with the run's files. The commands of docs/publishing.md
("publish-commands") are run as written, with the demo paths swapped for
the tiny run's."""
import datetime
import hashlib
import json
import os
import os.path as osp
import re
import runpy
import subprocess

import pytest
import torch
from mmengine.config import Config

from mmmedssl.apis import build_runner, sanitize_dataloaders
from mmmedssl.utils import safe_load
from mmmedssl.utils.publish import publish_checkpoint, strip_training_state
from ..conftest import REPO_ROOT, python_tool, tiny_config_text
from .test_mim import DEMO_CONFIG, documented_commands

CONFIG_NAME = osp.splitext(osp.basename(DEMO_CONFIG))[0]


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory, tiny_demo_data):
    """Two epochs of the tiny MoCo v2, validated after each; the config
    file carries the demo config's name, as in the docs."""
    root = tmp_path_factory.mktemp('publish')
    config = root / f'{CONFIG_NAME}.py'
    config.write_text(tiny_config_text(tiny_demo_data))
    cfg = Config.fromfile(str(config))
    cfg.work_dir = str(root / 'wd')
    sanitize_dataloaders(cfg)
    # One thread: on a busy 2-core machine the tiny convolutions otherwise
    # wait for each other (10x slower).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        build_runner(cfg).train()
    finally:
        torch.set_num_threads(threads)
    return root, cfg.work_dir, tiny_demo_data


def sha256(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def scalars(work_dir: str) -> list:
    run = next(d for d in sorted(os.listdir(work_dir))
               if re.fullmatch(r'\d{8}_\d{6}', d))
    path = osp.join(work_dir, run, 'vis_data', 'scalars.json')
    return [json.loads(line) for line in open(path)]


def test_documented_commands_publish_a_file_named_by_its_sha256(tiny_run):
    root, work_dir, data_root = tiny_run
    out_dir = str(root / 'published')
    train, publish, check = documented_commands('publish-commands')
    assert train.startswith('python tools/train.py ' + DEMO_CONFIG)
    args = publish.replace('work_dirs/demo', work_dir).replace(
        'epoch_40', 'epoch_2').replace('published/', out_dir + '/').split()
    out = python_tool(*args[1:]).stdout
    path = re.search(r'^published (\S+)$', out, flags=re.M).group(1)

    digest = sha256(path)
    assert osp.basename(path) == f'{CONFIG_NAME}-{digest[:8]}.pth'
    # The documented check: sha256sum prints the same full hash.
    check = check.replace('published/', out_dir + '/')
    printed = subprocess.run(check, shell=True, check=True, text=True,
                             stdout=subprocess.PIPE).stdout.split()[0]
    assert printed == digest

    published = safe_load(path)
    original = safe_load(osp.join(work_dir, 'epoch_2.pth'))
    assert set(published) == {'state_dict', 'meta'}
    assert {'optimizer', 'param_schedulers', 'message_hub'} <= set(original)
    assert published['meta'] == original['meta']
    assert published['state_dict'].keys() == original['state_dict'].keys()
    for key, value in original['state_dict'].items():
        assert torch.equal(published['state_dict'][key], value), key

    receipt = json.load(open(osp.splitext(path)[0] + '.json'))
    assert receipt['sha256'] == digest
    assert receipt['file'] == osp.basename(path)
    assert receipt['size_bytes'] == osp.getsize(path)
    source = receipt['source_checkpoint']
    assert source['sha256'] == sha256(osp.join(work_dir, 'epoch_2.pth'))
    assert (source['epoch'], source['iter']) == (2, 8)
    assert set(source['dropped_keys']) == set(original) - {
        'state_dict', 'meta'}
    assert receipt['config']['text'] == original['meta']['cfg']
    assert receipt['work_dir'] == work_dir

    # Metrics: the last val line of scalars.json.
    val = [r for r in scalars(work_dir) if 'knn/top1' in r]
    assert len(val) == 2
    expected = {k: v for k, v in val[-1].items()
                if k not in ('data_time', 'time', 'step')}
    assert receipt['final_metrics']['metrics'] == expected
    assert receipt['final_metrics']['step'] == 2

    # Data: every loader names labels.csv, hashed.
    ann = osp.join(data_root, 'labels.csv')
    loaders = receipt['data']['loaders']
    assert [d['loader'] for d in loaders] == [
        'train_dataloader', 'val_dataloader', 'test_dataloader']
    for dataset in loaders:
        assert dataset['data_root'] == data_root
        assert dataset['files']['ann_file']['path'] == ann
        assert dataset['files']['ann_file']['sha256'] == sha256(ann)

    # Wall time: run start (its folder's name) to the checkpoint's save.
    run = receipt['wall_time']['runs'][0]
    start = datetime.datetime.strptime(run['run'], '%Y%m%d_%H%M%S')
    saved = datetime.datetime.strptime(original['meta']['time'],
                                       '%Y%m%d_%H%M%S')
    assert receipt['wall_time']['seconds'] == (saved - start).total_seconds()
    assert 0 <= receipt['wall_time']['seconds'] < 3600

    assert receipt['software']['torch'] == torch.__version__
    assert receipt['hardware']['cpu_cores'] == os.cpu_count()
    assert receipt['training_environment']['CUDA available'] == str(
        torch.cuda.is_available())
    head = subprocess.run(['git', '-C', REPO_ROOT, 'rev-parse', 'HEAD'],
                          stdout=subprocess.PIPE, text=True)
    if head.returncode == 0:
        assert receipt['git']['commit'] == head.stdout.strip()
        assert isinstance(receipt['git']['dirty'], bool)


def test_an_earlier_checkpoint_gets_its_own_epochs_metrics(tiny_run,
                                                           tmp_path):
    """epoch_1 of the 2-epoch run: its metrics are epoch 1's val line, not
    the run's last; a moved checkpoint needs --work-dir; --name names it."""
    _, work_dir, _ = tiny_run
    moved = tmp_path / 'moved.pth'
    moved.write_bytes(open(osp.join(work_dir, 'epoch_1.pth'), 'rb').read())
    path, receipt_path = publish_checkpoint(str(moved), str(tmp_path / 'out'),
                                            name='tiny-e1',
                                            work_dir=work_dir)
    assert re.fullmatch(r'tiny-e1-[0-9a-f]{8}\.pth', osp.basename(path))
    receipt = json.load(open(receipt_path))
    val = [r for r in scalars(work_dir) if 'knn/top1' in r]
    assert receipt['final_metrics']['step'] == 1
    assert receipt['final_metrics']['metrics']['knn/top1'] == \
        val[0]['knn/top1']

    # Without the work dir nothing is guessed.
    _, receipt_path = publish_checkpoint(str(moved), str(tmp_path / 'out2'))
    receipt = json.load(open(receipt_path))
    assert receipt['work_dir'] is None
    assert receipt['final_metrics']['metrics'] is None
    assert 'no work dir' in receipt['final_metrics']['note']
    assert receipt['config']['source'] == 'checkpoint meta'


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r'x\.pth: no `state_dict` key'):
        strip_training_state({'optimizer': {}, 'epoch': 3}, 'x.pth')
    bare, dropped = strip_training_state({'w': torch.ones(2)})
    assert list(bare) == ['state_dict'] and dropped == []


def test_cli_fails_with_the_missing_file_named(tmp_path):
    # In-process (a subprocess would spend seconds importing torch).
    tool = runpy.run_path(osp.join(REPO_ROOT, 'tools', 'misc',
                                   'publish_model.py'))
    with pytest.raises(SystemExit) as exit_info:
        tool['main']([str(tmp_path / 'nope.pth'), str(tmp_path / 'out')])
    assert 'nope.pth can not be found' in str(exit_info.value.code)
    assert not (tmp_path / 'out').exists()
