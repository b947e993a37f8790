# Copyright (c) mmmedssl contributors. All rights reserved.
import copy

import pytest
import torch
import torch.nn.functional as F

from mmmedssl.engine.hooks.sync_buffers_hook import _synced_buffers
from mmmedssl.registry import MODELS

FEAT_DIM = 8
QUEUE_LEN = 16


def tiny_moco(type_='DistillingSelfTeacher', **kwargs):
    cfg = dict(
        type=type_,
        queue_len=QUEUE_LEN,
        feat_dim=FEAT_DIM,
        momentum=0.01,
        backbone=dict(
            type='ResNet',
            depth=18,
            stem_channels=4,
            base_channels=4,
            out_indices=[3],
            zero_init_residual=False),
        neck=dict(
            type='MoCoV2Neck',
            in_channels=32,
            hid_channels=16,
            out_channels=FEAT_DIM),
        head=dict(
            type='ContrastiveHead',
            loss=dict(type='CrossEntropyLoss'),
            temperature=0.2))
    cfg.update(kwargs)
    return cfg


def student_cfg(teacher_path, **kwargs):
    cfg = tiny_moco(
        'DistillingSelf',
        head=dict(type='DistillContrastiveHead', temperature=0.2),
        teacher=tiny_moco(),
        teacher_checkpoint=teacher_path)
    cfg.update(kwargs)
    return cfg


def views(seed=0, n=4):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 3, 32, 32, generator=gen) for _ in range(2)]


def sgd_steps(model, steps=3, lr=0.5):
    opt = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad],
        lr=lr, momentum=0.9, weight_decay=1e-2)
    for step in range(steps):
        losses = model.loss(views(step), None)
        opt.zero_grad()
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        opt.step()
    return losses


@pytest.fixture
def teacher_file(tmp_path):
    """A stage-A checkpoint: a tiny teacher trained for two steps."""
    torch.manual_seed(0)
    teacher = MODELS.build(tiny_moco())
    teacher.init_weights()
    sgd_steps(teacher, steps=2)
    path = tmp_path / 'teacher.pth'
    torch.save(dict(state_dict=teacher.state_dict()), path)
    return str(path), teacher


# ---------------------------------------------------------------- stage A
def test_teacher_backbone_frozen_while_bn_stats_and_head_change():
    torch.manual_seed(0)
    teacher = MODELS.build(tiny_moco())
    teacher.init_weights()
    params = {
        k: v.clone() for k, v in teacher.backbone.named_parameters()}
    stats = {k: v.clone() for k, v in teacher.backbone.named_buffers()}
    neck = {k: v.clone() for k, v in teacher.neck.named_parameters()}
    assert not any(p.requires_grad for p in teacher.backbone.parameters())

    sgd_steps(teacher, steps=3)

    for name, value in teacher.backbone.named_parameters():
        assert torch.equal(value, params[name]), name
    # The momentum encoder's backbone is the EMA of a constant.
    key_backbone = dict(teacher.momentum_encoder.module[0].named_parameters())
    for name, value in teacher.backbone.named_parameters():
        assert torch.equal(key_backbone[name], value), name
    assert not torch.allclose(teacher.backbone.bn1.running_mean,
                              stats['bn1.running_mean'])
    assert not torch.allclose(teacher.backbone.layer4[1].bn2.running_var,
                              stats['layer4.1.bn2.running_var'])
    for name, value in teacher.neck.named_parameters():
        assert not torch.equal(value, neck[name]), name


def test_teacher_reestimate_resets_loaded_statistics(tmp_path):
    torch.manual_seed(0)
    source = MODELS.build(tiny_moco()['backbone'])
    for module in source.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(1, 2)
            module.running_var.uniform_(3, 4)
    path = tmp_path / 'public.pth'
    torch.save(
        dict(state_dict={
            'backbone.' + k: v
            for k, v in source.state_dict().items()
        }), path)
    init = dict(type='Pretrained', checkpoint=str(path), prefix='backbone.')

    for bn_stats, expect_reset in (('reestimate', True), ('frozen', False)):
        cfg = tiny_moco(bn_stats=bn_stats)
        cfg['backbone']['init_cfg'] = init
        teacher = MODELS.build(cfg)
        teacher.init_weights()
        assert torch.equal(teacher.backbone.conv1.weight, source.conv1.weight)
        mean = teacher.backbone.layer2[0].bn1.running_mean
        if expect_reset:
            assert torch.equal(mean, torch.zeros_like(mean))
            assert torch.equal(teacher.backbone.bn1.running_var,
                               torch.ones_like(source.bn1.running_var))
        else:
            assert torch.equal(mean, source.layer2[0].bn1.running_mean)


def test_teacher_frozen_bn_stats_stay_in_eval_mode():
    torch.manual_seed(0)
    teacher = MODELS.build(tiny_moco(bn_stats='frozen'))
    teacher.init_weights()
    teacher.train()
    bns = [
        m for m in list(teacher.backbone.modules()) +
        list(teacher.momentum_encoder.module[0].modules())
        if isinstance(m, torch.nn.BatchNorm2d)
    ]
    assert bns and not any(m.training for m in bns)
    assert teacher.neck.training
    stats = {k: v.clone() for k, v in teacher.backbone.named_buffers()}
    sgd_steps(teacher, steps=2)
    for name, value in teacher.backbone.named_buffers():
        assert torch.equal(value, stats[name]), name


def test_teacher_unfrozen_is_plain_moco():
    torch.manual_seed(0)
    teacher = MODELS.build(tiny_moco(freeze_backbone=False))
    teacher.init_weights()
    before = teacher.backbone.conv1.weight.clone()
    sgd_steps(teacher, steps=1)
    assert not torch.equal(teacher.backbone.conv1.weight, before)


def test_teacher_rejects_unknown_bn_stats():
    with pytest.raises(ValueError, match="bn_stats must be 'reestimate'"):
        MODELS.build(tiny_moco(bn_stats='running'))


# ------------------------------------------------------------ loss, head
def test_distill_kl_loss_matches_formula_and_is_zero_for_equal_logits():
    gen = torch.Generator().manual_seed(0)
    student = torch.randn(5, 9, generator=gen, dtype=torch.float64)
    teacher = torch.randn(5, 9, generator=gen, dtype=torch.float64) * 3
    loss = MODELS.build(dict(type='DistillKLLoss', loss_weight=2.0))
    p_t = teacher.softmax(1)
    expected = (p_t * (p_t.log() - student.log_softmax(1))).sum() / 5
    assert loss(student, teacher).item() == pytest.approx(
        2 * expected.item(), rel=1e-6)
    assert loss(student, student).item() == pytest.approx(0, abs=1e-6)
    hot = MODELS.build(dict(type='DistillKLLoss', temperature=2.0))
    p_t = (teacher / 2).softmax(1)
    expected = (p_t * (p_t.log() - (student / 2).log_softmax(1))).sum() / 5
    assert hot(student, teacher).item() == pytest.approx(
        expected.item(), rel=1e-6)
    # Gradients reach the student only.
    s = student.float().requires_grad_()
    t = teacher.float().requires_grad_()
    loss(s, t).backward()
    assert s.grad.abs().sum() > 0 and t.grad is None
    with pytest.raises(ValueError, match='same shape'):
        loss(student, teacher[:, :4])


def test_distill_contrastive_head_terms():
    gen = torch.Generator().manual_seed(1)
    pos, s_pos, t_pos = (torch.rand(4, generator=gen) for _ in range(3))
    neg, s_neg, t_neg = (torch.rand(4, 6, generator=gen) for _ in range(3))
    head = MODELS.build(
        dict(
            type='DistillContrastiveHead',
            temperature=0.5,
            contrastive_weight=2.0,
            distill_weight=5.0))
    losses = head.loss(pos[:, None], neg, s_pos, s_neg, t_pos, t_neg)
    logits = torch.cat([pos[:, None], neg], 1) / 0.5
    ce = -logits.log_softmax(1)[:, 0].mean()
    s = torch.cat([s_pos[:, None], s_neg], 1) / 0.5
    t = torch.cat([t_pos[:, None], t_neg], 1) / 0.5
    kl = (t.softmax(1) * (t.log_softmax(1) - s.log_softmax(1))).sum(1).mean()
    assert losses['loss_contrast'].item() == pytest.approx(2 * ce.item(),
                                                           rel=1e-5)
    assert losses['loss_distill'].item() == pytest.approx(5 * kl.item(),
                                                          rel=1e-5)
    with pytest.raises(ValueError, match='same keys'):
        head.loss(pos, neg, s_pos, s_neg, t_pos, t_neg[:, :5])
    with pytest.raises(ValueError, match='negative ones'):
        head.loss(pos, neg[:3], s_pos, s_neg, t_pos, t_neg)


# ---------------------------------------------------------------- stage B
def build_student(teacher_path, **kwargs):
    torch.manual_seed(1)
    model = MODELS.build(student_cfg(teacher_path, **kwargs))
    model.init_weights()
    return model


class Recorder:
    """Wraps head.loss to keep its inputs."""

    def __init__(self, head):
        self.calls = []
        self._loss = head.loss
        head.loss = self

    def __call__(self, *args):
        self.calls.append([a.detach().clone() for a in args])
        return self._loss(*args)


@pytest.mark.parametrize('negatives', ['teacher', 'own'])
def test_logits_built_over_the_same_negatives(teacher_file, negatives):
    path, _ = teacher_file
    model = build_student(path, negatives=negatives)
    model.eval()  # BN on running statistics: embeddings recomputable below
    teacher = model.teacher.model
    assert model.teacher.shared_backbone
    recorder = Recorder(model.head)
    im_q, im_k = views(5)
    teacher_queue = model.teacher.queue.keys.clone()
    # Seeded from stage A: two pushes of 4 keys.
    ptr = int(model.teacher.queue.ptr)
    assert ptr == 8
    torch.testing.assert_close(teacher_queue, teacher.queue.keys)
    own_queue = model.queue.keys.clone()
    model.loss([im_q, im_k], None)
    pos, neg, s_pos, s_neg, t_pos, t_neg = recorder.calls[0]

    with torch.no_grad():
        q = F.normalize(model.neck(model.backbone(im_q))[0], dim=1)
        k = F.normalize(model.momentum_encoder(im_k)[0], dim=1)
        # Independent teacher pass, one view at a time. The key backbone's
        # weights equal the query backbone's (frozen in stage A), so the
        # query backbone (and its BN statistics) serves the key view.
        q_t = F.normalize(teacher.neck(teacher.backbone(im_q))[0], dim=1)
        k_t = F.normalize(
            teacher.momentum_encoder.module[1](teacher.backbone(im_k))[0],
            dim=1)
    torch.testing.assert_close(pos, (q * k).sum(1))
    torch.testing.assert_close(neg, q @ own_queue.t())
    torch.testing.assert_close(t_pos, (q_t * k_t).sum(1))
    torch.testing.assert_close(t_neg, q_t @ teacher_queue.t())
    if negatives == 'teacher':
        torch.testing.assert_close(s_pos, (q * k_t).sum(1))
        torch.testing.assert_close(s_neg, q @ teacher_queue.t())
    else:
        torch.testing.assert_close(s_pos, pos)
        torch.testing.assert_close(s_neg, neg)
    # Both queues advance by the batch: the teacher's with its own keys.
    torch.testing.assert_close(model.teacher.queue.keys[ptr:ptr + 4], k_t)
    assert int(model.teacher.queue.ptr) == ptr + 4
    torch.testing.assert_close(model.queue.keys[:4], k)


@pytest.mark.parametrize('negatives', ['teacher', 'own'])
def test_kl_is_zero_when_student_is_the_teacher(teacher_file, negatives):
    path, stage_a = teacher_file
    model = build_student(path, negatives=negatives)
    # Student := teacher: same weights (also for the key encoder) and queue.
    missing, unexpected = model.load_state_dict(
        stage_a.state_dict(), strict=False)
    assert not unexpected
    assert model.teacher.shared_backbone
    # The teacher's key encoder does not move: neither may the student's
    # (its BN statistics are still copied from the query backbone, as the
    # teacher's shared backbone uses them).
    model.momentum_encoder.momentum = 0.0
    model.eval()
    losses = model.loss(views(3), None)
    assert losses['loss_distill'].item() == pytest.approx(0, abs=1e-5)
    # A different student is penalised.
    other = build_student(path, negatives=negatives)
    other.eval()
    assert other.loss(views(3), None)['loss_distill'].item() > 1e-3


def test_teacher_is_frozen_and_not_saved(teacher_file):
    path, stage_a = teacher_file
    model = build_student(path, teacher_fold_bn=False)
    teacher = model.teacher.model
    teacher_tensors = {k: v.clone() for k, v in teacher.state_dict().items()}
    assert not list(model.teacher.parameters())
    teacher_ids = {id(t) for t in teacher.buffers()}
    assert not teacher_ids & {id(p) for p in model.parameters()}
    for name, value in stage_a.state_dict().items():
        torch.testing.assert_close(
            teacher.state_dict()[name], value, rtol=0, atol=0)

    model.train()
    assert not any(m.training for m in model.teacher.modules())
    backbone_before = model.backbone.conv1.weight.clone()
    sgd_steps(model, steps=2)
    assert not torch.equal(model.backbone.conv1.weight, backbone_before)
    for name, value in teacher.state_dict().items():
        assert torch.equal(value, teacher_tensors[name]), name

    state = model.state_dict()
    assert [k for k in state if k.startswith('teacher.')] == [
        'teacher.queue.keys', 'teacher.queue.ptr']
    # A fresh model resumes from it exactly (strict: no teacher keys needed).
    fresh = build_student(path)
    fresh.load_state_dict(state, strict=True)
    for name, value in fresh.state_dict().items():
        assert torch.equal(value, state[name]), name
    # The epoch-end buffer sync skips the teacher's frozen weights.
    synced = {id(b) for b in _synced_buffers(model)}
    assert id(model.teacher.queue.keys) in synced
    assert not synced & teacher_ids


def test_unshared_teacher_backbones_are_both_used(teacher_file, tmp_path):
    """A MoCo teacher whose key backbone differs runs both backbones."""
    _, stage_a = teacher_file
    state = copy.deepcopy(stage_a.state_dict())
    state['momentum_encoder.module.0.conv1.weight'] += 0.5
    path = tmp_path / 'moco.pth'
    torch.save(dict(state_dict=state), path)
    model = build_student(str(path))
    assert not model.teacher.shared_backbone
    model.eval()
    recorder = Recorder(model.head)
    im_q, im_k = views(2)
    model.loss([im_q, im_k], None)
    t_pos = recorder.calls[0][4]
    teacher = model.teacher.model
    with torch.no_grad():
        q_t = F.normalize(teacher.neck(teacher.backbone(im_q))[0])
        k_t = F.normalize(teacher.momentum_encoder(im_k)[0])
    torch.testing.assert_close(t_pos, (q_t * k_t).sum(1))


def test_student_errors(teacher_file, tmp_path):
    path, _ = teacher_file
    with pytest.raises(ValueError, match="negatives must be 'teacher'"):
        MODELS.build(student_cfg(path, negatives='both'))
    with pytest.raises(ValueError, match='feat_dim must equal'):
        MODELS.build(
            student_cfg(
                path,
                feat_dim=4,
                neck=dict(
                    type='MoCoV2Neck',
                    in_channels=32,
                    hid_channels=16,
                    out_channels=4)))
    with pytest.raises(ValueError, match='same number of negatives'):
        MODELS.build(student_cfg(path, negatives='own', queue_len=32))
    gravis = dict(
        type='GraVIS',
        backbone=tiny_moco()['backbone'],
        neck=dict(type='GraVISNeck', in_channels=32, hid_channels=8,
                  out_channels=8),
        head=dict(type='GraVISHead'))
    with pytest.raises(TypeError, match='no momentum_encoder, queue'):
        MODELS.build(student_cfg(path, teacher=gravis))

    missing = str(tmp_path / 'absent.pth')
    model = MODELS.build(student_cfg(missing))
    with pytest.raises(RuntimeError, match='has not been loaded'):
        model.loss(views(), None)
    with pytest.raises(FileNotFoundError, match='Train stage A first'):
        model.init_weights()
    with pytest.raises(ValueError, match='teacher_checkpoint'):
        MODELS.build(student_cfg(None)).load_teacher()
    # A checkpoint of another architecture is refused (strict loading).
    wide = tiny_moco()
    wide['neck'] = dict(wide['neck'], hid_channels=32)
    other = MODELS.build(wide)
    other_path = tmp_path / 'wide.pth'
    torch.save(dict(state_dict=other.state_dict()), other_path)
    with pytest.raises(RuntimeError, match='size mismatch'):
        MODELS.build(student_cfg(str(other_path))).load_teacher()


def test_folded_channels_last_teacher_gives_the_same_embeddings(teacher_file):
    path, _ = teacher_file
    fast = build_student(path)
    plain = build_student(
        path, teacher_fold_bn=False, teacher_channels_last=False)
    assert not any(
        isinstance(m, torch.nn.BatchNorm2d)
        for m in fast.teacher.model.backbone.modules())
    assert fast.teacher.model.backbone.conv1.weight.is_contiguous(
        memory_format=torch.channels_last)
    im_q, im_k = views(7)
    for a, b in zip(fast.teacher(im_q, im_k), plain.teacher(im_q, im_k)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    # Loading again rebuilds the teacher from the checkpoint.
    fast.load_teacher()
    assert not list(fast.teacher.parameters())
    for a, b in zip(fast.teacher(im_q, im_k), plain.teacher(im_q, im_k)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_teacher_from_a_work_dir_or_its_last_checkpoint(teacher_file,
                                                        tmp_path):
    """Stage A's last epoch depends on the data (data_size_recipe), so the
    recipe configs name its work dir's last_checkpoint."""
    path, stage_a = teacher_file
    work = tmp_path / 'stage_a'
    work.mkdir()
    target = work / 'epoch_7.pth'
    target.write_bytes(open(path, 'rb').read())
    (work / 'last_checkpoint').write_text(str(target))
    direct = build_student(path).teacher.model.state_dict()
    for name in (str(work / 'last_checkpoint'), str(work)):
        loaded = build_student(name).teacher.model.state_dict()
        assert loaded.keys() == direct.keys()
        for key, value in direct.items():
            assert torch.equal(loaded[key], value), key
    (work / 'last_checkpoint').write_text(str(work / 'epoch_9.pth'))
    with pytest.raises(FileNotFoundError, match='epoch_9.pth'):
        build_student(str(work / 'last_checkpoint'))
