# Copyright (c) mmmedssl contributors. All rights reserved.
import csv
from collections import Counter

import pytest

from ..conftest import load_tool


@pytest.fixture
def labelled_list(tmp_path):
    """20 lesions: lesion i has i % 3 + 1 images; labels mel/nv/bcc."""
    labels, splits = tmp_path / 'labels.csv', tmp_path / 'splits.csv'
    rows = []
    for lesion in range(20):
        for shot in range(lesion % 3 + 1):
            rows.append((f'images/l{lesion}_{shot}.jpg',
                         ('mel', 'nv', 'bcc')[lesion % 3], f'L{lesion}',
                         'test' if lesion >= 16 else 'train'))
    with open(labels, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['image', 'label', 'lesion_id', 'seg'])
        w.writerows(r[:3] + (r[0].replace('images', 'masks'),)
                    for r in rows)
    with open(splits, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['image', 'split'])
        w.writerows((r[0], r[3]) for r in rows)
    return labels, splits


def read(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def test_subset_one_image_per_group_first_and_binary_labels(
        labelled_list, tmp_path):
    labels, splits = labelled_list
    tool = load_tool('tools/benchmarks/make_subset.py')
    out = tmp_path / 'subset.csv'
    assert tool.main([str(labels), '--split-file', str(splits),
                      '--group-key', 'lesion_id', '--size', 'train=10',
                      '--positive', 'mel', '--out', str(out)]) == 0
    rows = read(out)
    train = [r for r in rows if r['split'] == 'train']
    test = [r for r in rows if r['split'] == 'test']
    # 16 train lesions: 10 images from 10 different lesions.
    assert len(train) == 10 and len({r['group'] for r in train}) == 10
    # The unnamed split is kept whole (lesions 16-19: 2+3+1+2 images).
    assert len(test) == 8
    source = {r['image']: r['label'] for r in read(labels)}
    for row in rows:
        assert row['label'] == str(int(source[row['image']] == 'mel'))
    # 20 images > 16 lesions: every lesion once, then second images.
    out2 = tmp_path / 'subset2.csv'
    tool.main([str(labels), '--split-file', str(splits), '--group-key',
               'lesion_id', '--size', 'train=20', '--out', str(out2)])
    groups = Counter(r['group'] for r in read(out2) if r['split'] == 'train')
    assert len(groups) == 16 and max(groups.values()) == 2
    # Same seed, same draw; another seed, another.
    again = tmp_path / 'again.csv'
    tool.main([str(labels), '--split-file', str(splits), '--group-key',
               'lesion_id', '--size', 'train=10', '--positive', 'mel',
               '--out', str(again)])
    assert read(again) == rows
    other = tmp_path / 'other.csv'
    tool.main([str(labels), '--split-file', str(splits), '--group-key',
               'lesion_id', '--size', 'train=10', '--seed', '1', '--out',
               str(other)])
    assert {r['image'] for r in read(other)} != {r['image'] for r in rows}
    # The study files write to data/subsets/, absent on a fresh clone.
    prefixed = tmp_path / 'data' / 'subsets' / 'prefixed.csv'
    tool.main([str(labels), '--split-file', str(splits), '--group-key',
               'lesion_id', '--size', 'train=10', '--positive', 'mel',
               '--path-prefix', 'data/ham/', '--out', str(prefixed)])
    assert [r['image'] for r in read(prefixed)] == [
        'data/ham/' + r['image'] for r in rows]
    assert 'mask' not in read(prefixed)[0]
    # --mask-key: each image's own mask, prefixed the same way.
    masked = tmp_path / 'masked.csv'
    tool.main([str(labels), '--split-file', str(splits), '--group-key',
               'lesion_id', '--size', 'train=10', '--positive', 'mel',
               '--path-prefix', 'data/ham/', '--mask-key', 'seg',
               '--out', str(masked)])
    assert [(r['image'], r['mask']) for r in read(masked)] == [
        ('data/ham/' + r['image'],
         'data/ham/' + r['image'].replace('images', 'masks')) for r in rows]


@pytest.mark.parametrize('args, message', [
    (['--size', 'val=3'], "names splits \\['val'\\]"),
    (['--size', 'train=0'], 'SPLIT=N with N >= 1'),
    (['--positive', 'melanoma'], "no row has that 'label'"),
    (['--group-key', 'patient'], "no column 'patient'"),
    (['--mask-key', 'mask'], "no column 'mask'"),
])
def test_subset_errors(labelled_list, tmp_path, args, message):
    labels, splits = labelled_list
    tool = load_tool('tools/benchmarks/make_subset.py')
    with pytest.raises(SystemExit, match=message):
        tool.main([str(labels), '--split-file', str(splits), '--out',
                   str(tmp_path / 'x.csv')] + args)
