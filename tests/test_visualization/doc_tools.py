# Copyright (c) mmmedssl contributors. All rights reserved.
"""What the visualization tests share: the commands of a section of
docs/visualization.md and a tool's module to run in-process."""
import importlib.util
import os.path as osp
import re
import shlex

from ..conftest import REPO_ROOT


def doc_commands(section: str) -> list:
    """The argument lists (without ``python``) of the ``python ...`` lines
    in the code blocks of ``## section`` of docs/visualization.md."""
    with open(osp.join(REPO_ROOT, 'docs', 'visualization.md')) as f:
        text = f.read()
    body = text.split(f'## {section}\n')[1].split('\n## ')[0]
    blocks = re.findall(r'```\n(.*?)```', body, re.S)
    return [shlex.split(line)[1:] for block in blocks
            for line in block.splitlines() if line.startswith('python ')]


def load_tool(script: str):
    """A tool's module, to run its ``main`` in this process (each command
    line itself also runs once as a subprocess in the tests)."""
    spec = importlib.util.spec_from_file_location(
        osp.splitext(osp.basename(script))[0], osp.join(REPO_ROOT, script))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
