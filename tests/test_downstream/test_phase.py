# Copyright (c) mmmedssl contributors. All rights reserved.
import pytest
import torch

from mmmedssl.downstream import (evaluate_phase_model, fit_phase_tcn,
                                 group_by_video)


def synthetic_videos(n, seed, noise=0.5, dim=8):
    """Phases 0..6 in order with random lengths; features = a fixed phase
    code + noise, so a good model reaches ~100 %."""
    gen = torch.Generator().manual_seed(seed)
    codes = torch.randn(7, dim, generator=torch.Generator().manual_seed(99))
    feats, labels, videos, frames = [], [], [], []
    for v in range(n):
        lengths = torch.randint(3, 8, (7, ), generator=gen)
        seq = torch.repeat_interleave(torch.arange(7), lengths)
        feats.append(codes[seq] + noise * torch.randn(len(seq), dim,
                                                      generator=gen))
        labels += seq.tolist()
        videos += [f'video{v:02d}'] * len(seq)
        frames += [25 * i for i in range(len(seq))]
    return group_by_video(torch.cat(feats), labels, videos, frames)


def test_group_by_video_orders_frames():
    feats = torch.arange(5.)[:, None]
    videos = group_by_video(feats, [0, 1, 2, 3, 4], ['b', 'a', 'b', 'a', 'b'],
                            [50, 25, 0, 0, 25])
    assert [v.video_id for v in videos] == ['b', 'a']
    assert videos[0].feats[:, 0].tolist() == [2., 4., 0.]
    assert videos[0].labels.tolist() == [2, 4, 0]
    assert videos[1].labels.tolist() == [3, 1]
    with pytest.raises(ValueError, match='same length'):
        group_by_video(feats, [0], ['a'], [0])


def test_tcn_learns_phases_and_selects_on_val():
    train = synthetic_videos(6, seed=0)
    val = synthetic_videos(2, seed=1)
    test = synthetic_videos(3, seed=2)
    head, history = fit_phase_tcn(
        train, val, num_classes=7, fps=0.2, epochs=25, lr=5e-3,
        head_cfg=dict(channels=16, num_layers=4))
    assert len(history) == 25
    assert history[-1]['loss'] < history[0]['loss']
    best = max(h['accuracy'] for h in history)
    assert evaluate_phase_model(head, val, 0.2)['accuracy'] == \
        pytest.approx(best)  # the kept epoch is the best on val
    scores = evaluate_phase_model(head, test, 0.2)
    assert scores['accuracy'] > 90 and scores['jaccard'] > 70
    # Untrained: far worse.
    untrained, _ = fit_phase_tcn(train, val, 7, 0.2, epochs=1, lr=1e-9,
                                 head_cfg=dict(channels=16, num_layers=4))
    assert evaluate_phase_model(untrained, test, 0.2)['accuracy'] < 60
    with pytest.raises(ValueError, match='train and val'):
        fit_phase_tcn([], val, 7, 0.2)
