# Copyright (c) mmmedssl contributors. All rights reserved.
"""docs/byod.md, as written: every bash and Python block of each recipe runs
on tiny synthetic files. Only the recipe's DATA/WORK lines are pointed at
the test's folders, and the training (and crop sampling) commands get
options appended that make them tiny; nothing else is changed."""
import os
import os.path as osp
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from .conftest import REPO_ROOT, hang_timeout, python_tool

DOC = osp.join(REPO_ROOT, 'docs', 'byod.md')
# Appended to the commands of a tool, by script name: the recipes' sizes
# (224 px, 100 epochs, LUNA16 crop sizes) shrunk for a CPU test.
TINY = {
    'tools/train.py': (
        'train_cfg.max_epochs=1 train_dataloader.batch_size=4 '
        'train_dataloader.num_workers=0 '
        'train_dataloader.persistent_workers=False'),
    'luna_crop_pairs.py': (
        '--crop-sizes 12,12,6 16,16,8 24,24,12 --border-xy 4 --border-z 2 '
        '--pairs-per-scan 4 --workers 1'),
}
TINY_2D = ('model.queue_len=16 '
           'train_dataloader.dataset.pipeline.1.transforms.0.0.scale=32')
TINY_3D = 'train_dataloader.batch_size=2'


def recipes():
    with open(DOC) as f:
        text = f.read()
    sections = re.split(r'^## ', text, flags=re.M)[1:]
    out = {}
    for section in sections:
        title = section.split('\n', 1)[0]
        blocks = re.findall(r'```(bash|python)\n(.*?)```', section, re.S)
        if blocks:
            out[title] = blocks
    return out


RECIPES = recipes()


def _tiny_command(line: str, work: str) -> str:
    for script, extra in TINY.items():
        if f'{script} ' in line:
            if script == 'tools/train.py':
                extra += ' ' + (TINY_3D if 'unet3d' in line else TINY_2D)
                if '--cfg-options' not in line:
                    extra = '--cfg-options ' + extra
            line = f'{line} {extra}'
    return line


def run_recipe(title: str, data: str, work: str) -> None:
    env = dict(os.environ)
    env.pop('MMMEDSSL_TRUST_CHECKPOINTS', None)
    env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
    doc_work = None
    for kind, code in RECIPES[title]:
        if kind == 'bash':
            code = code.replace('\\\n', ' ')
            lines = []
            for line in code.splitlines():
                if line.startswith('DATA='):
                    line = f'DATA={data}'
                elif line.startswith('WORK='):
                    doc_work = line.split('=', 1)[1]
                    line = f'WORK={work}'
                elif line.startswith('python '):
                    line = sys.executable + ' ' + _tiny_command(
                        line[len('python '):], work)
                lines.append(line)
            proc = subprocess.run(['bash', '-euo', 'pipefail', '-c',
                                   '\n'.join(lines)], cwd=REPO_ROOT,
                                  env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True,
                                  timeout=hang_timeout())
            assert proc.returncode == 0, (f'{title}: exit '
                                          f'{proc.returncode}\n'
                                          f'{proc.stdout[-6000:]}')
        else:
            assert doc_work, f'{title}: a Python block before WORK='
            code = code.replace(doc_work, work)
            exec(compile(code, f'docs/byod.md ({title})', 'exec'), {})


def _write_photo(path, rng):
    img = np.full((48, 64, 3), rng.integers(0, 255, 3), np.uint8)
    cv2.circle(img, tuple(int(v) for v in rng.integers(10, 40, 2)), 10,
               tuple(int(v) for v in rng.integers(0, 255, 3)), -1)
    os.makedirs(osp.dirname(path), exist_ok=True)
    cv2.imwrite(str(path), img)


def _title(prefix):
    return next(t for t in RECIPES if t.startswith(prefix))


def test_photos(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / 'my_photos'
    for patient in range(4):
        for i in range(2):
            _write_photo(data / f'patient_{patient:03d}' / f'img_{i}.jpg',
                         rng)
    work = tmp_path / 'work'
    run_recipe(_title('1.'), str(data), str(work))
    ids = (work / 'features' / 'ids.csv').read_text().splitlines()
    assert len(ids) == 1 + 8
    assert np.load(work / 'features' / 'embeddings.npy').shape == (8, 512)
    assert 'patient_000,train' in (work / 'images.csv').read_text() or \
        'patient_000,val' in (work / 'images.csv').read_text()
    assert osp.isfile(work / 'exported' / 'timm.pth')


def test_chest_xray_dicoms(tmp_path):
    from .test_datasets.test_transforms.test_medical_image import \
        write_dicom
    rng = np.random.default_rng(1)
    data = tmp_path / 'my_dicoms'
    data.mkdir()
    for patient in range(4):
        for view in range(2):
            pixels = rng.integers(0, 4096, (40, 48)).astype(np.uint16)
            write_dicom(data / f'patient{patient:04d}_view{view}.dcm',
                        pixels, photometric=('MONOCHROME1' if view else
                                             'MONOCHROME2'),
                        slope=1, intercept=-1024, center=500, width=3000)
    work = tmp_path / 'work'
    run_recipe(_title('2.'), str(data), str(work))
    assert 'patient0003' in (work / 'images.csv').read_text()


def test_ct_nifti_volumes(tmp_path):
    from .test_tools.test_luna_crop_pairs import write_scan
    data = tmp_path / 'my_ct'
    for patient in range(2):
        folder = data / f'patient{patient}'
        folder.mkdir(parents=True)
        write_scan(folder / 'ct.nii.gz', (24, 36, 36), (1., 1., 1.),
                   patient)
    work = tmp_path / 'work'
    run_recipe(_title('3.'), str(data), str(work))
    assert len((work / 'pairs' / 'index.txt').read_text().split()) == 8


def test_surgical_videos(tmp_path):
    python_tool('tools/dataset_converters/make_demo_surgical_videos.py',
                '--out', str(tmp_path / 'surgical'), '--num-videos', '2',
                '--size', '64', '--seconds', '8', '10')
    work = tmp_path / 'work'
    run_recipe(_title('4.'), str(tmp_path / 'surgical' / 'videos'),
               str(work))
    frames = (work / 'frames.csv').read_text()
    assert 'video01/' in frames and 'video02/' in frames


def test_every_recipe_is_tested():
    assert sorted(t.split('.')[0] for t in RECIPES
                  if t[0].isdigit()) == ['1', '2', '3', '4']


@pytest.mark.parametrize('title', [t for t in RECIPES if t[0].isdigit()])
def test_recipe_exports_a_loadable_encoder(title):
    """Each recipe ends with an export and Python that loads it."""
    kinds = [kind for kind, _ in RECIPES[title]]
    bash = ' '.join(code for kind, code in RECIPES[title] if kind == 'bash')
    assert 'export_backbone.py' in bash and kinds[-1] == 'python'
