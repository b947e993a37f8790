# Copyright (c) mmmedssl contributors. All rights reserved.
"""tools/analysis_tools/phase_recognition.py end to end on tiny synthetic
videos: features, a TCN selected on val videos, test metrics in JSON."""
import json
import os.path as osp
import textwrap

import torch

from ..conftest import REPO_ROOT, make_surgical_frames, python_tool

MOCO_SURGICAL = osp.join(REPO_ROOT, 'configs', 'mocov2',
                         'mocov2_resnet18_1xb32-coslr-20e_demo-surgical.py')


def test_phase_recognition_tool(tmp_path):
    data = make_surgical_frames(tmp_path / 'surgical', 5, 32, (8, 10),
                                fps=1, frame_size=32)
    config = tmp_path / 'tiny.py'
    config.write_text(textwrap.dedent(f'''
        _base_ = [{MOCO_SURGICAL!r}]
        model = dict(backbone=dict(stem_channels=8, base_channels=8),
                     neck=dict(in_channels=64, hid_channels=16))
        data = dict(data_root={data!r}, train_val_videos=[1, 2, 3],
                    test_videos=[4, 5], num_val_videos=1)
        val_dataloader = dict(batch_size=16, dataset=data)
        test_dataloader = val_dataloader
    '''))
    # A "pretrained" checkpoint: the same network from another seed.
    from mmengine.config import Config

    from mmmedssl.registry import MODELS
    torch.manual_seed(5)
    model = MODELS.build(Config.fromfile(str(config)).model)
    checkpoint = tmp_path / 'other.pth'
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    out = tmp_path / 'phase.json'
    proc = python_tool('tools/analysis_tools/phase_recognition.py',
                       str(config), str(checkpoint), '--epochs', '3',
                       '--label-fraction', '0.5',
                       '--relax-seconds', '0', '--work-dir',
                       str(tmp_path / 'work'), '--out', str(out))
    assert '| random init |' in proc.stdout and '| pretrained  |' in \
        proc.stdout
    result = json.loads(out.read_text())
    # Half of the 2 train videos: one, drawn with the seed.
    assert len(result['videos']['train']) == 1
    assert set(result['videos']['train']) <= {'video01', 'video02'}
    assert result['videos']['val'] == ['video03']
    assert result['videos']['test'] == ['video04', 'video05']
    for row in ('random_init', 'pretrained'):
        test = result[row]['test']
        for key in ('accuracy', 'jaccard', 'precision', 'recall'):
            assert 0 <= test[key] <= 100, (row, key)
        assert 1 <= result[row]['best_epoch'] <= 3
        assert len(result[row]['val_history']) == 3
    # Different backbones give different features, hence different scores.
    assert result['random_init']['val_history'] != \
        result['pretrained']['val_history']


def test_video_draw_is_whole_videos_and_seeded():
    from mmmedssl.datasets import draw_groups as draw_videos
    videos = [f'video{i:02d}' for i in range(1, 41)]
    four = draw_videos(videos, 0.1, seed=0)
    assert len(four) == 4 and set(four) <= set(videos)
    assert draw_videos(videos, 0.1, seed=0) == four
    assert draw_videos(videos, 0.1, seed=1) != four
    assert draw_videos(videos, 0.01, seed=0) != []  # at least one video
    assert draw_videos(videos, 1.0, seed=3) == videos
