# Copyright (c) mmmedssl contributors. All rights reserved.
"""docs/export.md, as written: its export commands and every Python block
that loads an export run against tiny training runs (the doc's
``work_dirs/demo`` and ``work_dirs/pcrl3d_demo`` pointed at the test's
folders; the training commands get fewer epochs appended)."""
import os.path as osp
import re
import shlex

from .conftest import REPO_ROOT, python_tool

DOC = osp.join(REPO_ROOT, 'docs', 'export.md')
DEMO = 'configs/mocov2/mocov2_resnet18_1xb32-coslr-40e_demo.py'


def _doc():
    with open(DOC) as f:
        return f.read()


def _blocks(text):
    """``(language, code)`` of every fenced block, in order."""
    blocks, lang, lines = [], None, []
    for line in text.splitlines():
        if line.startswith('```'):
            if lang is None:
                lang, lines = line[3:].strip(), []
            else:
                blocks.append((lang, '\n'.join(lines) + '\n'))
                lang = None
        elif lang is not None:
            lines.append(line)
    return blocks


def _commands(text):
    """The ``python tools/...`` commands of the plain code blocks."""
    commands = []
    for lang, block in _blocks(text):
        if lang:
            continue
        for line in block.replace('\\\n', ' ').splitlines():
            if line.startswith('python tools/'):
                commands.append(shlex.split(line)[1:])
    return commands


def _python_blocks(text):
    return [code for lang, code in _blocks(text) if lang == 'python']


def _run_command(args, replace, extra=()):
    args = [replace(a) for a in args]
    return python_tool(*args, *extra, timeout=600)


def test_export_doc_commands_and_loading_code(tmp_path, tiny_demo_data):
    text = _doc()
    demo = str(tmp_path / 'demo')
    pcrl = str(tmp_path / 'pcrl3d_demo')
    volumes = str(tmp_path / 'volumes')

    def replace(s):
        return s.replace('work_dirs/demo', demo).replace(
            'work_dirs/pcrl3d_demo', pcrl)

    # The README's demo run (full-width ResNet-18), one epoch on the tiny
    # copy of the demo set.
    python_tool('tools/train.py', DEMO, '--work-dir', demo, '--cfg-options',
                'train_cfg.max_epochs=1', 'train_dataloader.batch_size=8',
                f'train_dataloader.dataset.data_root={tiny_demo_data}',
                f'val_dataloader.dataset.data_root={tiny_demo_data}',
                'model.queue_len=32', timeout=600)
    python_tool('tools/dataset_converters/make_demo_volumes.py', '--out',
                volumes, '--num-pairs', '8', timeout=300)

    commands = _commands(text)
    assert any(c[0].endswith('export_backbone.py') for c in commands)
    for command in commands:
        if 'CHECKPOINT' in command:
            continue  # the usage line
        extra = []
        if command[0] == 'tools/train.py':
            extra = ['--cfg-options', 'train_cfg.max_epochs=1',
                     f'train_dataloader.dataset.data_root={volumes}']
        proc = _run_command(command, replace, extra)
        if command[0].endswith('export_backbone.py') and \
                '--to' in command:
            targets = command[command.index('--to') + 1:]
            targets = targets[:next((i for i, t in enumerate(targets)
                                     if t.startswith('--')),
                                    len(targets))]
            for target in targets:
                assert re.search(rf'^{target}\s+(\d+)/\1\s.*\byes$',
                                 proc.stdout, re.M), proc.stdout

    for code in _python_blocks(text):
        if 'default_hooks' in code:
            continue  # a config snippet, not a script
        exec(compile(replace(code), 'docs/export.md', 'exec'), {})
