# Copyright (c) mmmedssl contributors. All rights reserved.
"""Write the embedded demo set: synthetic dermoscopy-like lesion photos.

    python tools/dataset_converters/make_demo_data.py [--out data/demo_derm] \\
        [--size 64] [--train-lesions 24] [--val-lesions 10] [--test-lesions 0] \\
        [--images-per-lesion 3] [--seed 0]

Deterministic for a given ``--seed``. Four classes differ in lesion shape,
structure and (with overlap) pigment, as lesion types do:

- ``round``: a smooth, nearly circular tan or brown disc;
- ``irregular``: a ragged, star-like, dark brown or blue-black lesion;
- ``halo``: a brown rim around a lighter centre;
- ``globular``: a cluster of small red or pink globules.

A quarter of the lesions take their pigment from any class, so colour alone
does not give the class away. The nuisances are the ones of real photos:
skin tone and tint, lighting, vignetting, noise, and the lesion's position,
size and orientation. The skin covers most of each image, so features of a
random network mostly encode skin tone; features that ignore the nuisances
(what augmentation-invariant self-supervised learning aims for) separate the
classes. Each lesion (``lesion_id``) is photographed
``--images-per-lesion`` times with a different pose, scale, lighting and
noise, and lesions, not images, are split into train and val.

Output: ``images/*.png`` and ``labels.csv`` with the columns
``image,label,label_idx,lesion_id,split``.
"""
import argparse
import csv
import os
import os.path as osp

import cv2
import numpy as np

CLASSES = ('round', 'irregular', 'halo', 'globular')
# Pigment colours (BGR) of each class.
PIGMENTS = (
    np.array([[96, 140, 190], [50, 85, 140]], np.float32),  # tan, brown
    np.array([[30, 50, 85], [80, 50, 40]], np.float32),  # dark, blue-black
    np.array([[50, 85, 140], [40, 70, 120]], np.float32),  # browns
    np.array([[60, 70, 170], [130, 120, 210]], np.float32),  # red, pink
)
ALL_PIGMENTS = np.concatenate(PIGMENTS)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='data/demo_derm',
                        help='output folder (default: data/demo_derm)')
    parser.add_argument('--size', type=int, default=64,
                        help='image side in pixels (default: 64)')
    parser.add_argument('--train-lesions', type=int, default=24,
                        help='train lesions per class (default: 24)')
    parser.add_argument('--val-lesions', type=int, default=10,
                        help='val lesions per class (default: 10)')
    parser.add_argument('--test-lesions', type=int, default=0,
                        help='test lesions per class, a third split '
                        '(default: 0)')
    parser.add_argument('--images-per-lesion', type=int, default=3,
                        help='images of each lesion (default: 3)')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def lesion_params(rng: np.random.Generator, label: int) -> dict:
    """What stays fixed across all photos of one lesion."""
    palette = ALL_PIGMENTS if rng.random() < 0.25 else PIGMENTS[label]
    return dict(
        label=label,
        radius=rng.uniform(0.22, 0.32),
        aspect=rng.uniform(0.8, 1.0) if label != 1 else rng.uniform(0.7, 1.0),
        pigment=palette[rng.integers(len(palette))] * rng.uniform(0.85, 1.15),
        # Skin tone (overall) and tint (per channel).
        skin=np.array([170, 190, 225], np.float32) * rng.uniform(0.55, 1.1)
        * rng.uniform(0.9, 1.1, size=3).astype(np.float32),
        # Ragged border: random harmonics of the radius.
        harmonics=[(int(rng.integers(5, 11)), rng.uniform(0.15, 0.3),
                    rng.uniform(0, 2 * np.pi)) for _ in range(3)],
        globules=rng.uniform(-0.6, 0.6, size=(int(rng.integers(5, 9)), 2)),
        globule_radius=rng.uniform(0.07, 0.1),
        halo_ratio=rng.uniform(0.45, 0.6))


def lesion_mask(params: dict, size: int, angle: float, scale: float,
                shift: np.ndarray) -> tuple:
    """Float masks (outer lesion, inner lighter part) in [0, 1]."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    xx, yy = xx - shift[0], yy - shift[1]
    cos, sin = np.cos(angle), np.sin(angle)
    u = (cos * xx + sin * yy) / scale
    v = (-sin * xx + cos * yy) / (scale * params['aspect'])
    rho = np.sqrt(u**2 + v**2)
    theta = np.arctan2(v, u)
    radius = params['radius']
    label = params['label']
    inner = np.zeros_like(rho)
    if label == 1:
        wobble = sum(a * np.sin(k * theta + p)
                     for k, a, p in params['harmonics'])
        outer = rho < radius * (1 + wobble)
    elif label == 3:
        outer = np.zeros_like(rho, dtype=bool)
        for gx, gy in params['globules']:
            d = np.sqrt((u - gx * radius)**2 + (v - gy * radius)**2)
            outer |= d < params['globule_radius']
    else:
        outer = rho < radius
        if label == 2:
            inner = (rho < radius * params['halo_ratio']).astype(np.float32)
    outer = outer.astype(np.float32)
    # Soft border, as in real photos.
    outer = cv2.GaussianBlur(outer, (0, 0), size / 64)
    inner = cv2.GaussianBlur(inner, (0, 0), size / 64)
    return outer, inner


def render(params: dict, size: int, rng: np.random.Generator) -> np.ndarray:
    """One photo of a lesion: new pose, lighting and noise."""
    angle = rng.uniform(0, 2 * np.pi)
    scale = rng.uniform(0.85, 1.15)
    shift = rng.uniform(-0.06, 0.06, size=2)
    outer, inner = lesion_mask(params, size, angle, scale, shift)
    skin = params['skin'] * rng.uniform(0.9, 1.1)
    img = np.ones((size, size, 3), np.float32) * skin
    # Skin texture and uneven lighting (vignette).
    img += rng.normal(0, 6, size=(size, size, 1))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    vignette = 1 - rng.uniform(0.2, 0.5) * (xx**2 + yy**2)
    pigment = params['pigment'][None, None]
    lighter = 0.5 * pigment + 0.5 * skin[None, None]
    lesion = pigment * (1 - inner[..., None]) + lighter * inner[..., None]
    img = img * (1 - outer[..., None]) + lesion * outer[..., None]
    img *= vignette[..., None] * rng.uniform(0.85, 1.15)
    img += rng.normal(0, 4, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_demo_data(out: str, size: int = 64, train_lesions: int = 24,
                   val_lesions: int = 10, images_per_lesion: int = 3,
                   seed: int = 0, test_lesions: int = 0) -> str:
    """Write the set into ``out``; returns the path of ``labels.csv``.
    ``test_lesions`` per class make a third split, ``test``, after val
    (none by default: the demo set is train and val)."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(out, 'images'), exist_ok=True)
    rows = []
    for label, name in enumerate(CLASSES):
        for index in range(train_lesions + val_lesions + test_lesions):
            split = ('train' if index < train_lesions else
                     'val' if index < train_lesions + val_lesions else 'test')
            lesion_id = f'{name}_{index:03d}'
            params = lesion_params(rng, label)
            for shot in range(images_per_lesion):
                image = f'images/{lesion_id}_{shot}.png'
                cv2.imwrite(osp.join(out, image), render(params, size, rng))
                rows.append((image, name, label, lesion_id, split))
    ann = osp.join(out, 'labels.csv')
    with open(ann, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(('image', 'label', 'label_idx', 'lesion_id', 'split'))
        writer.writerows(rows)
    return ann


def main(argv=None):
    args = parse_args(argv)
    ann = make_demo_data(args.out, args.size, args.train_lesions,
                         args.val_lesions, args.images_per_lesion, args.seed,
                         args.test_lesions)
    with open(ann) as f:
        count = sum(1 for _ in f) - 1
    print(f'Wrote {count} images of {len(CLASSES)} classes to {args.out} '
          f'({ann}).')


if __name__ == '__main__':
    main()
