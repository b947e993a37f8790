# Copyright (c) mmmedssl contributors. All rights reserved.
import csv
from collections import Counter

from ..conftest import load_tool


def test_test_split_is_optional_and_holds_whole_lesions(tmp_path):
    tool = load_tool('tools/dataset_converters/make_demo_data.py')
    default = tool.make_demo_data(str(tmp_path / 'a'), size=16,
                                  train_lesions=2, val_lesions=1,
                                  images_per_lesion=2)
    rows = list(csv.DictReader(open(default)))
    assert Counter(r['split'] for r in rows) == {'train': 16, 'val': 8}

    ann = tool.make_demo_data(str(tmp_path / 'b'), size=16, train_lesions=2,
                              val_lesions=1, images_per_lesion=2,
                              test_lesions=3)
    rows = list(csv.DictReader(open(ann)))
    # 4 classes x (2 + 1 + 3) lesions x 2 images.
    assert Counter(r['split'] for r in rows) == {'train': 16, 'val': 8,
                                                 'test': 24}
    split_of = {}
    for row in rows:
        assert split_of.setdefault(row['lesion_id'], row['split']) == \
            row['split']
    assert Counter(r['label'] for r in rows if r['split'] == 'test') == {
        'round': 6, 'irregular': 6, 'halo': 6, 'globular': 6}
