# Copyright (c) mmmedssl contributors. All rights reserved.
"""The layering of the code, read from every file's imports:

- ``mmmedssl.datasets`` does not import ``mmmedssl.evaluation`` or
  ``mmmedssl.downstream`` (data sits below evaluation);
- ``mmmedssl.evaluation``, ``mmmedssl.models`` and ``mmmedssl.datasets`` do
  not import ``mmmedssl.downstream`` (the workflows sit on top);
- no module of the package imports ``tools``;
- no tool imports another tool (by name, through ``sys.path``, or by
  loading its file).
"""
import ast
import os
import os.path as osp
from typing import Iterator, List, Tuple

import pytest

from .conftest import REPO_ROOT

PACKAGE = osp.join(REPO_ROOT, 'mmmedssl')
TOOLS = osp.join(REPO_ROOT, 'tools')

# (importing package, forbidden package)
LAYER_RULES = [
    ('mmmedssl.datasets', 'mmmedssl.evaluation'),
    ('mmmedssl.datasets', 'mmmedssl.downstream'),
    ('mmmedssl.evaluation', 'mmmedssl.downstream'),
    ('mmmedssl.models', 'mmmedssl.downstream'),
]


def python_files(root: str) -> List[str]:
    out = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(('.', '__'))]
        out += [osp.join(folder, f) for f in files if f.endswith('.py')]
    return sorted(out)


def module_name(path: str) -> str:
    rel = osp.relpath(path, REPO_ROOT)[:-len('.py')].split(os.sep)
    if rel[-1] == '__init__':
        rel = rel[:-1]
    return '.'.join(rel)


def imported_modules(source: str, module: str,
                     is_package: bool = False) -> Iterator[Tuple[int, str]]:
    """``(line, absolute module name)`` of every import in ``source``,
    relative imports resolved against ``module``."""
    package = module.split('.') if is_package else module.split('.')[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                name = '.'.join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            yield node.lineno, name
            for alias in node.names:  # `from . import x` may be a module
                yield node.lineno, f'{name}.{alias.name}'


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + '.')


def layer_violations(source: str, module: str,
                     is_package: bool = False) -> List[str]:
    found = []
    for line, name in imported_modules(source, module, is_package):
        for importer, forbidden in LAYER_RULES:
            if within(module, importer) and within(name, forbidden):
                found.append(f'{module}:{line} imports {name}')
        if within(name, 'tools'):
            found.append(f'{module}:{line} imports {name} (tools/)')
    return found


def tool_violations(source: str, tool: str, tool_names: set) -> List[str]:
    """Imports of a sibling tool by name, ``sys.path`` entries pointing into
    ``tools/`` and tool files loaded by path."""
    found = []
    tree = ast.parse(source)
    for line, name in imported_modules(source, tool):
        if name.split('.')[0] in tool_names or within(name, 'tools'):
            found.append(f'{tool}:{line} imports the tool {name}')
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        call = ast.unparse(node.func)
        text = ast.unparse(node)
        if call in ('sys.path.insert', 'sys.path.append') and (
                'tools' in text or '__file__' in text
                and 'dirname(osp.dirname' not in text
                and "'..'" not in text):
            found.append(f'{tool}:{node.lineno} puts a tools folder on '
                         f'sys.path: {text}')
        if call.endswith(('spec_from_file_location', 'run_path')) and \
                'tools' in text:
            found.append(f'{tool}:{node.lineno} loads a tool file: {text}')
    return found


def test_package_layers():
    violations = []
    for path in python_files(PACKAGE):
        with open(path) as f:
            violations += layer_violations(
                f.read(), module_name(path),
                osp.basename(path) == '__init__.py')
    assert not violations, '\n'.join(violations)


def test_no_tool_imports_another_tool():
    paths = python_files(TOOLS)
    names = {osp.splitext(osp.basename(p))[0] for p in paths}
    violations = []
    for path in paths:
        with open(path) as f:
            violations += tool_violations(f.read(), module_name(path), names)
    assert not violations, '\n'.join(violations)


@pytest.mark.parametrize('source,module,expected', [
    ('from mmmedssl.evaluation import x', 'mmmedssl.datasets.a',
     'imports mmmedssl.evaluation'),
    ('from ..evaluation.functional import auc', 'mmmedssl.datasets.a',
     'imports mmmedssl.evaluation.functional'),
    ('import mmmedssl.downstream.study', 'mmmedssl.models.utils.b',
     'imports mmmedssl.downstream.study'),
    ('from ...downstream import run_probe', 'mmmedssl.evaluation.metrics.c',
     'imports mmmedssl.downstream'),
    ('from tools.train import main', 'mmmedssl.apis.d', '(tools/)'),
])
def test_layer_rules_catch_violations(source, module, expected):
    found = layer_violations(source, module)
    assert found and expected in found[0]


def test_layer_rules_allow_the_right_direction():
    assert not layer_violations('from mmmedssl.datasets import x',
                                'mmmedssl.downstream.linear_probe')
    assert not layer_violations('from .splits import split_groups',
                                'mmmedssl.datasets.image_list')
    assert not layer_violations('from .functional import auc',
                                'mmmedssl.evaluation', is_package=True)


@pytest.mark.parametrize('source,expected', [
    ('from knn_eval import format_table', 'imports the tool knn_eval'),
    ('import sys, os.path as osp\n'
     'sys.path.insert(0, osp.dirname(osp.abspath(__file__)))',
     'puts a tools folder on sys.path'),
    ("import importlib.util\nimportlib.util.spec_from_file_location("
     "'m', 'tools/analysis_tools/knn_eval.py')", 'loads a tool file'),
])
def test_tool_rules_catch_violations(source, expected):
    found = tool_violations(source, 'tools.analysis_tools.linear_probe',
                            {'knn_eval', 'linear_probe'})
    assert found and expected in found[0]
