# Copyright (c) mmmedssl contributors. All rights reserved.
"""Checkpoints written before the queues became ``KeyMemory`` modules and the
momentum encoders were named ``momentum_encoder`` still load, strictly."""
import torch

from mmmedssl.models.selfsup.base import LegacyKey, rename_legacy_keys
from mmmedssl.registry import MODELS
from .test_distillingself import build_student, sgd_steps, tiny_moco, views
# A fixture, used by the tests below.
from .test_distillingself import teacher_file  # noqa: F401


def legacy_names(state):
    """``state`` under the names the earlier code wrote: mmpretrain's MoCo
    ones (``encoder_k.*``, a ``(dim, K)`` ``queue``, ``queue_ptr``) and
    DistillingSelf's ``teacher_queue.*``."""
    old = {}
    for key, value in state.items():
        if key.startswith('momentum_encoder.'):
            key = 'encoder_k.' + key[len('momentum_encoder.'):]
        elif key == 'queue.keys':
            key, value = 'queue', value.t().contiguous()
        elif key == 'queue.ptr':
            key = 'queue_ptr'
        elif key.startswith('teacher.queue.'):
            key = 'teacher_queue.' + key[len('teacher.queue.'):]
        old[key] = value
    return old


def assert_same_state(model, state):
    current = model.state_dict()
    assert set(current) == set(state)
    for name, value in state.items():
        assert torch.equal(current[name], value), name


def test_rename_legacy_keys():
    state = {
        'm.old.a': 1,
        'm.old.b.c': 2,
        'm.vec': torch.arange(6).view(2, 3),
        'm.other': 3,
        'm.oldest': 4,
    }
    rename_legacy_keys(state, 'm.', [
        LegacyKey('old.', 'new.'),
        LegacyKey('vec', 'vec.keys', transpose=True),
        LegacyKey('other', 'taken'),
    ])
    assert state['m.new.a'] == 1 and state['m.new.b.c'] == 2
    assert torch.equal(state['m.vec.keys'], torch.arange(6).view(2, 3).t())
    assert state['m.taken'] == 3 and 'm.other' not in state
    assert state['m.oldest'] == 4  # 'old.' renames a subtree, not a prefix
    # A new name already present wins: the old key stays (unexpected).
    state = {'old.a': 1, 'new.a': 2}
    rename_legacy_keys(state, '', [LegacyKey('old.', 'new.')])
    assert state == {'old.a': 1, 'new.a': 2}


def test_medmoco_and_teacher_load_legacy_state_dicts():
    for type_ in ('MedMoCo', 'DistillingSelfTeacher'):
        torch.manual_seed(0)
        trained = MODELS.build(tiny_moco(type_))
        sgd_steps(trained, steps=2)
        state = trained.state_dict()
        legacy = legacy_names(state)
        assert 'encoder_k.module.0.conv1.weight' in legacy
        assert legacy['queue'].shape == (8, 16)
        fresh = MODELS.build(tiny_moco(type_))
        fresh.load_state_dict(legacy, strict=True)
        assert_same_state(fresh, state)
        # The caller's dict is not renamed.
        assert 'queue_ptr' in legacy and 'queue.ptr' not in legacy


def test_teacher_loader_accepts_a_legacy_stage_a_checkpoint(
        teacher_file, tmp_path):  # noqa: F811
    path, stage_a = teacher_file
    legacy_path = tmp_path / 'legacy_teacher.pth'
    torch.save(
        dict(state_dict=legacy_names(stage_a.state_dict())), legacy_path)
    new = build_student(path)
    old = build_student(str(legacy_path))
    assert old.teacher.shared_backbone == new.teacher.shared_backbone
    assert_same_state(old.teacher.model, new.teacher.model.state_dict())
    assert_same_state(old.teacher.queue, new.teacher.queue.state_dict())
    im_q, im_k = views(4)
    for a, b in zip(old.teacher(im_q, im_k), new.teacher(im_q, im_k)):
        assert torch.equal(a, b)


def test_student_loads_a_legacy_checkpoint(teacher_file):  # noqa: F811
    path, _ = teacher_file
    student = build_student(path)
    sgd_steps(student, steps=2)
    state = student.state_dict()
    legacy = legacy_names(state)
    assert {'teacher_queue.keys', 'teacher_queue.ptr', 'queue',
            'queue_ptr'} <= set(legacy)
    resumed = build_student(path)
    resumed.load_state_dict(legacy, strict=True)
    assert_same_state(resumed, state)
    # And it trains on exactly as the original does.
    torch.manual_seed(3)
    expected = student.loss(views(9), None)
    torch.manual_seed(3)
    got = resumed.loss(views(9), None)
    for name in expected:
        assert torch.equal(got[name], expected[name]), name
    assert_same_state(resumed, student.state_dict())
