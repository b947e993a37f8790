# Copyright (c) mmmedssl contributors. All rights reserved.
import os.path as osp

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmpretrain.structures import DataSample

from mmmedssl.models.losses import GraVISLoss
from mmmedssl.models.utils import source_ids, stack_views
from mmmedssl.registry import MODELS


def tiny_gravis(norm_eval=False, **kwargs):
    return MODELS.build(
        dict(
            type='GraVIS',
            backbone=dict(type='ResNet', depth=18, stem_channels=4,
                          base_channels=4, norm_cfg=dict(type='BN'),
                          norm_eval=norm_eval),
            neck=dict(type='GraVISNeck', in_channels=32, hid_channels=16,
                      out_channels=8, l2_normalize=True),
            head=dict(type='GraVISHead', loss=dict(type='GraVISLoss')),
            **kwargs))


def make_batch(num_sources, num_views, seed=0, size=16):
    gen = torch.Generator().manual_seed(seed)
    views = [torch.randn(num_sources, 3, size, size, generator=gen)
             for _ in range(num_views)]
    samples = [DataSample(metainfo=dict(sample_idx=10 + i))
               for i in range(num_sources)]
    return views, samples


def test_stack_views_is_image_major():
    # view v of source b holds the value 10 * b + v
    views = [torch.full((3, 1, 2, 2), 0.0) + torch.arange(3.0).view(3, 1, 1,
                                                                     1) * 10
             + v for v in range(4)]
    flat, batch, num_views = stack_views(views)
    assert (batch, num_views) == (3, 4) and flat.shape == (12, 1, 2, 2)
    expected = torch.tensor([10.0 * b + v for b in range(3) for v in range(4)])
    torch.testing.assert_close(flat[:, 0, 0, 0], expected)
    # a (B, V, ...) tensor is accepted as is
    flat2, _, _ = stack_views(torch.stack(views, 1))
    assert torch.equal(flat, flat2)
    with pytest.raises(ValueError, match='one shape'):
        stack_views([torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 5, 5)])


def test_source_ids():
    samples = [DataSample(metainfo=dict(sample_idx=i, group_id=g))
               for i, g in enumerate(['L1', 'L2', 'L1'])]
    ids = source_ids(samples, 'sample_idx', 2)
    assert ids.tolist() == [0, 0, 1, 1, 2, 2]
    ids = source_ids(samples, 'group_id', 2)
    assert ids[0] == ids[4] and ids[0] != ids[2] and ids[2] == ids[3]
    # stable across processes: not Python's salted hash()
    assert ids[0].item() == source_ids(samples[:1], 'group_id', 1).item()
    with pytest.raises(KeyError, match="no 'lesion'"):
        source_ids(samples, 'lesion', 2)


def test_loss_is_the_grouping_loss_of_the_embeddings():
    torch.manual_seed(0)
    model = tiny_gravis(shuffle_views=False).train()
    views, samples = make_batch(4, 3)
    loss = model(views, samples, mode='loss')['loss']
    flat, _, _ = stack_views(views)
    emb = model.neck(model.backbone(flat))[0]
    expected = GraVISLoss()(emb, torch.arange(4).repeat_interleave(3))
    assert loss.item() == pytest.approx(expected.item(), abs=1e-6)
    # embeddings are unit vectors with l2_normalize=True
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(12))


def test_group_id_sources_merge_images_of_one_lesion():
    torch.manual_seed(0)
    model = tiny_gravis(shuffle_views=False, source_key='group_id').train()
    views, samples = make_batch(3, 2)
    for sample, lesion in zip(samples, ['a', 'b', 'a']):
        sample.set_metainfo(dict(group_id=lesion))
    loss = model(views, samples, mode='loss')['loss']
    flat, _, _ = stack_views(views)
    emb = model.neck(model.backbone(flat))[0]
    expected = GraVISLoss()(emb, torch.tensor([0, 0, 1, 1, 0, 0]))
    assert loss.item() == pytest.approx(expected.item(), abs=1e-6)


def test_shuffling_reaches_the_encoder_and_is_undone():
    torch.manual_seed(0)
    model = tiny_gravis(shuffle_views=True).train()
    views, samples = make_batch(4, 5)
    flat, _, _ = stack_views(views)
    seen = []
    handle = model.backbone.register_forward_pre_hook(
        lambda m, args: seen.append(args[0].detach().clone()))
    emb = model.embed(flat)
    handle.remove()
    # the encoder saw a permutation of the views, not their order
    assert not torch.equal(seen[0], flat)
    assert torch.equal(seen[0].sort(0).values, flat.sort(0).values)
    # one process: BatchNorm statistics do not depend on the order, so the
    # restored embeddings equal those of the unshuffled batch
    model.shuffle_views = False
    torch.testing.assert_close(emb, model.embed(flat), rtol=0, atol=1e-5)


def test_needs_two_views_and_predict_mode():
    model = tiny_gravis()
    views, samples = make_batch(2, 1)
    with pytest.raises(ValueError, match='views of every image, but the batch has 1'):
        model(views, samples, mode='loss')
    model.eval()
    out = model(views[0], samples, mode='predict')
    assert out[0].feature.shape == (32, )


def _ddp_worker(rank, world_size, init_file, out_dir):
    from mmmedssl.utils import register_all_modules
    register_all_modules()  # a spawned process starts with no default scope
    dist.init_process_group('gloo', init_method=f'file://{init_file}',
                            rank=rank, world_size=world_size)
    try:
        for shuffle in (False, True):
            torch.manual_seed(0)
            # norm_eval keeps BatchNorm on running statistics, so the
            # gradient cannot depend on how views are split over ranks.
            model = tiny_gravis(norm_eval=True, shuffle_views=shuffle).train()
            seen = []
            model.backbone.register_forward_pre_hook(
                lambda m, args: seen.append(args[0].detach().clone()))
            ddp = torch.nn.parallel.DistributedDataParallel(model)
            views, samples = make_batch(6, 3)
            per_rank = 6 // world_size
            part = slice(rank * per_rank, (rank + 1) * per_rank)
            loss = ddp([v[part] for v in views], samples[part],
                       mode='loss')['loss']
            loss.backward()
            grads = {n: p.grad for n, p in model.named_parameters()
                     if p.grad is not None}
            torch.save(dict(loss=loss.detach(), grads=grads, seen=seen[0]),
                       osp.join(out_dir, f'shuffle{int(shuffle)}_rank{rank}.pth'))
    finally:
        dist.destroy_process_group()


def test_ddp_gradient_equals_single_process_global_batch(tmp_path):
    """2 gloo processes with 3 sources each, with and without cross-rank
    view shuffling, give the gradient of one process on all 6 sources."""
    mp.spawn(_ddp_worker, args=(2, str(tmp_path / 'init'), str(tmp_path)),
             nprocs=2, join=True)
    torch.manual_seed(0)
    model = tiny_gravis(norm_eval=True, shuffle_views=False).train()
    views, samples = make_batch(6, 3)
    loss = model(views, samples, mode='loss')['loss']
    loss.backward()
    flat, _, _ = stack_views(views)
    for shuffle in (0, 1):
        for rank in range(2):
            result = torch.load(tmp_path / f'shuffle{shuffle}_rank{rank}.pth')
            # which global views this rank's encoder saw
            rows = [int((flat == x).flatten(1).all(1).nonzero())
                    for x in result['seen']]
            own = list(range(rank * 9, rank * 9 + 9))
            if shuffle:
                assert sorted(rows) != own and len(set(rows)) == 9
            else:
                assert rows == own
            # every rank computes the loss of all ranks' views
            assert result['loss'].item() == pytest.approx(loss.item(),
                                                          abs=1e-6)
            checked = 0
            for name, param in model.named_parameters():
                if param.grad is None:
                    continue
                torch.testing.assert_close(result['grads'][name], param.grad,
                                           rtol=1e-4, atol=1e-6)
                checked += 1
            assert checked > 10
