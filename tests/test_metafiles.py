# Copyright (c) mmmedssl contributors. All rights reserved.
"""The metafiles (``model-index.yml`` and the ``configs/*/metafile.yml`` it
imports): every config and README they name exists, and every result says
where it was measured.

A result (OpenMMLab's ``Task``, ``Dataset``, ``Metrics``) must carry

- ``Source``: ``<markdown file>#<anchor>``, a section of the docs
  (GitHub's heading anchors) whose text prints each metric value the way
  the docs print numbers (two decimals);
- ``Command``: the command line(s) that reproduce it, each of which appears
  in that section (line continuations joined, spaces collapsed).

``Results: null`` means "not measured"; numbers are never filled in without
a source.
"""
import os.path as osp
import re
from typing import Dict, List

import pytest
import yaml

from .conftest import REPO_ROOT

MODEL_INDEX = osp.join(REPO_ROOT, 'model-index.yml')


def load_metafiles() -> Dict[str, dict]:
    """metafile path (relative to the repository) -> its parsed YAML."""
    with open(MODEL_INDEX, encoding='utf-8') as f:
        index = yaml.safe_load(f)
    out = {}
    for rel in index['Import']:
        with open(osp.join(REPO_ROOT, rel), encoding='utf-8') as f:
            out[rel] = yaml.safe_load(f)
    return out


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation and
    symbols dropped (``×``, ``%``, ``:``, backticks), spaces to hyphens."""
    text = re.sub(r'[^\w\- ]', '', heading.strip().lower())
    return text.replace(' ', '-')


def markdown_sections(path: str) -> Dict[str, str]:
    """anchor -> the heading line and the text under it, up to the next
    heading of the same or a higher level (``#`` lines inside fenced code
    blocks are comments, not headings)."""
    with open(path, encoding='utf-8') as f:
        lines = f.read().splitlines()
    headings, in_code = [], False
    for i, line in enumerate(lines):
        if line.lstrip().startswith('```'):
            in_code = not in_code
            continue
        match = re.match(r'(#{1,6}) (.+)', line)
        if match and not in_code:
            headings.append((i, len(match.group(1)), match.group(2)))
    sections = {}
    for k, (start, level, title) in enumerate(headings):
        end = next((i for i, lvl, _ in headings[k + 1:] if lvl <= level),
                   len(lines))
        sections[github_anchor(title)] = '\n'.join(lines[start:end])
    return sections


def normalise(text: str) -> str:
    """Shell line continuations joined and runs of spaces collapsed."""
    return re.sub(r'\s+', ' ', re.sub(r'\\\n', ' ', text))


def printed(value: float) -> str:
    """A metric value as the docs print it."""
    return f'{value:.2f}'


def result_problems(model: str, result: dict) -> List[str]:
    """What is wrong with one entry of a model's ``Results``."""
    where = f'{model}: result {result.get("Dataset")!r}'
    problems = []
    for key in ('Task', 'Dataset', 'Metrics'):
        if not result.get(key):
            problems.append(f'{where} has no {key}')
    metrics = result.get('Metrics') or {}
    if not isinstance(metrics, dict) or not all(
            isinstance(v, (int, float)) for v in metrics.values()):
        problems.append(f'{where}: Metrics must map names to numbers, got '
                        f'{metrics!r}')
        metrics = {}
    source = result.get('Source')
    if not isinstance(source, str) or '#' not in source:
        return problems + [
            f'{where} has no Source (expected "docs/benchmarks.md#<anchor>"'
            f' naming the section that holds the numbers), got {source!r}']
    doc, anchor = source.split('#', 1)
    doc_path = osp.join(REPO_ROOT, doc)
    if not osp.isfile(doc_path):
        return problems + [f'{where}: Source file {doc} does not exist']
    sections = markdown_sections(doc_path)
    if anchor not in sections:
        return problems + [f'{where}: {doc} has no section #{anchor}']
    text = normalise(sections[anchor])
    for name, value in metrics.items():
        if not re.search(rf'(?<![\d.]){re.escape(printed(value))}(?!\d)',
                         text):
            problems.append(f'{where}: {name} = {printed(value)} does not '
                            f'appear in {source}')
    commands = result.get('Command')
    if isinstance(commands, str):
        commands = [commands]
    if not commands or not all(isinstance(c, str) for c in commands):
        problems.append(f'{where} has no Command (the command line(s) that '
                        'reproduce it)')
    else:
        for command in commands:
            if normalise(command).strip() not in text:
                problems.append(f'{where}: command {command!r} does not '
                                f'appear in {source}')
    return problems


def all_models():
    for path, meta in load_metafiles().items():
        for model in meta.get('Models') or []:
            yield path, model


def test_every_metafile_config_and_readme_exists():
    missing = []
    for path, meta in load_metafiles().items():
        for collection in meta.get('Collections') or []:
            readme = collection.get('README')
            if readme and not osp.isfile(osp.join(REPO_ROOT, readme)):
                missing.append(f'{path}: README {readme}')
        for model in meta.get('Models') or []:
            config = model.get('Config')
            if not config or not osp.isfile(osp.join(REPO_ROOT, config)):
                missing.append(f'{path}: {model["Name"]} -> {config}')
    assert not missing, missing
    assert len(list(all_models())) >= 30


def test_every_result_names_its_source_section_and_command():
    problems, filled = [], 0
    for path, model in all_models():
        results = model.get('Results')
        if results is None:
            continue  # not measured
        assert isinstance(results, list) and results, (path, model['Name'])
        for result in results:
            filled += 1
            problems += result_problems(model['Name'], result)
    assert not problems, '\n'.join(problems)
    assert filled >= 20  # the measured configs (docs/benchmarks.md)


def test_a_result_without_source_or_with_another_number_fails():
    good = dict(
        Task='Image Classification',
        Dataset='mmmedssl demo set',
        Metrics={'kNN Top-1': 47.5},
        Source='docs/benchmarks.md#demo-moco-v2-on-the-embedded-demo-set',
        Command='python tools/train.py configs/mocov2/'
        'mocov2_resnet18_1xb32-coslr-40e_demo.py --work-dir work_dirs/demo')
    assert result_problems('m', good) == []
    no_source = {k: v for k, v in good.items() if k != 'Source'}
    assert 'has no Source' in ' '.join(result_problems('m', no_source))
    no_command = {k: v for k, v in good.items() if k != 'Command'}
    assert 'has no Command' in ' '.join(result_problems('m', no_command))
    other = dict(good, Metrics={'kNN Top-1': 47.25})
    assert '47.25 does not appear' in ' '.join(result_problems('m', other))
    # 7.50 is part of 47.50 in the text, not a printed value of its own.
    assert result_problems('m', dict(good, Metrics={'x': 7.5}))
    section = dict(good, Source='docs/benchmarks.md#no-such-section')
    assert 'no section' in ' '.join(result_problems('m', section))


def test_github_anchors_of_benchmark_sections():
    # The anchors the READMEs already link to.
    assert github_anchor('GraVIS on HAM10000, ResNet-18, 64×64, CPU') == \
        'gravis-on-ham10000-resnet-18-6464-cpu'
    assert github_anchor(
        'HAM10000: fine-tuning with 10 % of the labels (ResNet-18, 64×64, '
        'CPU)') == 'ham10000-fine-tuning-with-10--of-the-labels-resnet-18-' \
                   '6464-cpu'
    sections = markdown_sections(osp.join(REPO_ROOT, 'docs', 'benchmarks.md'))
    # A '# comment' in a code block does not end the section.
    assert 'model.queue_len=1024' in sections[
        'ham10000-moco-v2-resnet-18-6464-cpu']


@pytest.mark.parametrize('path', sorted(load_metafiles()))
def test_modelindex_parses_every_metafile(path):
    """mim reads the files through ``modelindex``; extra keys (Source,
    Command) must not stop it."""
    from modelindex.load_model_index import load
    models = load(osp.join(REPO_ROOT, path)).models
    names = [m['Name'] for m in load_metafiles()[path]['Models']]
    assert [m.name for m in models] == names
    for model, raw in zip(models, load_metafiles()[path]['Models']):
        measured = raw.get('Results') or []
        assert len(model.results or []) == len(measured)
