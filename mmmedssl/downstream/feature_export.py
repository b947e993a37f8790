# Copyright (c) mmmedssl contributors. All rights reserved.
"""Embeddings of any images (a folder, a list, or the config's own test
split) from a pretrained backbone, written as ``.npy`` plus an ids CSV for
use outside mmmedssl (``tools/analysis_tools/extract_features.py``)."""
import copy
import csv
import json
import os
import os.path as osp
from typing import Iterator, List, Optional

import numpy as np
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from .evaluation_model import build_eval_model
from .features import extract_features

LIST_SUFFIXES = ('.csv', '.tsv', '.txt', '.json')
# Transforms that read annotations a plain image list does not have.
_ANNOTATION_TRANSFORMS = ('LoadMedSegMap', )


def _walk(pipeline) -> Iterator[dict]:
    for step in pipeline or []:
        if isinstance(step, dict):
            yield step
            for key in ('transforms', 'pipeline'):
                inner = step.get(key)
                if isinstance(inner, (list, tuple)):
                    # MedMultiView holds a list of view pipelines.
                    for item in inner:
                        yield from _walk(item if isinstance(item, list)
                                         else [item])


def _is_3d(pipeline) -> bool:
    return any(step.get('type') == 'LoadVolume' or step.get('spatial_dims')
               == 3 for step in _walk(pipeline))


def _crop_size(pipeline) -> Optional[int]:
    for step in _walk(pipeline):
        if step.get('type') == 'RandomResizedCrop':
            scale = step.get('scale')
            return scale if isinstance(scale, int) else scale[0]
    return None


def feature_pipeline(cfg: Config, img_size: Optional[int] = None) -> list:
    """The pipeline features are extracted with: the config's
    ``test_dataloader`` (else ``val_dataloader``) pipeline without
    annotation loading; for a pretraining config without one, the train
    pipeline's loading step, a resize to ``img_size`` (default: the
    training crop size) and packing (whole volumes for 3D)."""
    for name in ('test_dataloader', 'val_dataloader'):
        loader = cfg.get(name)
        if isinstance(loader, dict) and loader.get('dataset', {}).get(
                'pipeline'):
            pipeline = [
                copy.deepcopy(step) for step in loader['dataset']['pipeline']
                if step.get('type') not in _ANNOTATION_TRANSFORMS
            ]
            if img_size is not None:
                for step in pipeline:
                    if step.get('type') == 'Resize':
                        step['scale'] = (img_size, img_size)
            return pipeline
    train = cfg.train_dataloader.dataset.get('pipeline', [])
    if _is_3d(train) or cfg.model.backbone.get('type') == 'UNet3DEncoder':
        return [dict(type='LoadVolume'),
                dict(type='PackMedInputs', spatial_dims=3)]
    load = next((copy.deepcopy(step) for step in train
                 if str(step.get('type', '')).startswith('Load')
                 and step.get('type') != 'LoadSourceImages'),
                dict(type='LoadImageFromFile'))
    size = img_size or _crop_size(train)
    if size is None:
        raise ValueError(
            f'{cfg.filename}: no test pipeline and no RandomResizedCrop to '
            'take the image size from; give the size (--img-size).')
    return [load, dict(type='Resize', scale=(size, size)),
            dict(type='PackMedInputs')]


def data_source(data: str, pipeline: list, img_key: str = 'image',
                label_key: Optional[str] = None,
                group_key: Optional[str] = None,
                split: Optional[str] = None) -> dict:
    """A dataset config for ``data``: a folder (``MedImageFolder``, every
    image below it) or a list file (``MedImageList``, paths relative to the
    file's folder)."""
    if osp.isdir(data):
        return dict(type='MedImageFolder', data_root=data, pipeline=pipeline)
    if not osp.isfile(data):
        raise FileNotFoundError(f'--data {data}: no such folder or file.')
    if not data.lower().endswith(LIST_SUFFIXES):
        raise ValueError(f'--data {data}: expected a folder or a list file '
                         f'({", ".join(LIST_SUFFIXES)}).')
    return dict(type='MedImageList', data_root=osp.dirname(data) or '.',
                ann_file=osp.basename(data), img_key=img_key,
                label_key=label_key, group_key=group_key, split=split,
                pipeline=pipeline)


def export_features(cfg: Config, checkpoint: Optional[str], out_dir: str,
                    dataset_cfg: Optional[dict] = None,
                    work_dir: str = 'work_dirs/extract_features',
                    batch_size: Optional[int] = None) -> dict:
    """Extract pooled backbone features of ``dataset_cfg`` (default: the
    config's test dataset) with ``checkpoint`` (None: random init) and
    write ``out_dir/embeddings.npy`` (float32, ``(N, C)``),
    ``out_dir/ids.csv`` (``index, path`` and ``group`` / ``label`` when the
    data has them; one row per embedding, same order) and
    ``out_dir/meta.json``. Returns the meta."""
    if dataset_cfg is None:
        loader = cfg.get('test_dataloader')
        if not isinstance(loader, dict) or not loader.get('dataset'):
            raise ValueError(f'{cfg.filename}: no test_dataloader; say which '
                             'images to embed (--data FOLDER_OR_LIST).')
        dataset_cfg = loader['dataset']
    loader_cfg = dict(
        batch_size=batch_size or 32, num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'),
        dataset=copy.deepcopy(dataset_cfg))
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope') or 'mmmedssl'):
        loader = Runner.build_dataloader(loader_cfg)
    model = build_eval_model(cfg, checkpoint, work_dir)
    feats, labels, sample_ids = extract_features(model, loader,
                                                 require_labels=False)
    dataset = loader.dataset
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    groups = [info.get('group_id') for info in infos]
    rows = _id_rows(sample_ids, groups, labels)
    os.makedirs(out_dir, exist_ok=True)
    np.save(osp.join(out_dir, 'embeddings.npy'), feats.numpy())
    with open(osp.join(out_dir, 'ids.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    meta = dict(config=cfg.filename, checkpoint=checkpoint,
                num_samples=int(feats.shape[0]),
                feature_dim=int(feats.shape[1]),
                labelled=labels is not None,
                classes=list(dataset.metainfo.get('classes') or []) or None,
                files=['embeddings.npy', 'ids.csv'])
    with open(osp.join(out_dir, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=2)
    return meta


def _id_rows(sample_ids: List[str], groups: list, labels) -> List[dict]:
    rows = []
    with_groups = any(g is not None for g in groups)
    for index, path in enumerate(sample_ids):
        row = dict(index=index, path=path)
        if with_groups:
            row['group'] = groups[index]
        if labels is not None:
            label = labels[index]
            row['label'] = int(label) if label.dim() == 0 else ';'.join(
                str(c) for c in label.nonzero().reshape(-1).tolist())
        rows.append(row)
    return rows
