# Copyright (c) mmmedssl contributors. All rights reserved.
"""mmmedssl's registries.

Every node is a child of the matching mmpretrain node (itself a child of
mmengine's), with ``scope='mmmedssl'``. With ``default_scope='mmmedssl'`` a
config therefore reaches mmmedssl, mmpretrain and mmengine modules without
prefixes. Each node lists the mmpretrain sub-package in ``locations`` too:
a child that falls back to its parent does not import the parent's
``locations``, so without it mmpretrain modules would be missing.

``WEIGHT_CONVERTERS`` is the one exception: mmpretrain has no such registry,
so it is a root with ``scope='mmmedssl'``.

This module must stay import-light: ``mmpretrain.registry`` needs no
torchvision and no models.
"""
from mmengine.registry import Registry
from mmpretrain import registry as mmpretrain_registry


def _child(parent: Registry, subpackage: str) -> Registry:
    return Registry(
        parent.name,
        parent=parent,
        scope='mmmedssl',
        locations=[f'mmpretrain.{subpackage}', f'mmmedssl.{subpackage}'])


_P = mmpretrain_registry

# Runner components.
RUNNERS = _child(_P.RUNNERS, 'engine')
RUNNER_CONSTRUCTORS = _child(_P.RUNNER_CONSTRUCTORS, 'engine')
LOOPS = _child(_P.LOOPS, 'engine')
HOOKS = _child(_P.HOOKS, 'engine')
LOG_PROCESSORS = _child(_P.LOG_PROCESSORS, 'engine')
OPTIMIZERS = _child(_P.OPTIMIZERS, 'engine')
OPTIM_WRAPPERS = _child(_P.OPTIM_WRAPPERS, 'engine')
OPTIM_WRAPPER_CONSTRUCTORS = _child(_P.OPTIM_WRAPPER_CONSTRUCTORS, 'engine')
PARAM_SCHEDULERS = _child(_P.PARAM_SCHEDULERS, 'engine')

# Data.
DATASETS = _child(_P.DATASETS, 'datasets')
DATA_SAMPLERS = _child(_P.DATA_SAMPLERS, 'datasets')
TRANSFORMS = _child(_P.TRANSFORMS, 'datasets')

# Models.
MODELS = _child(_P.MODELS, 'models')
MODEL_WRAPPERS = _child(_P.MODEL_WRAPPERS, 'models')
WEIGHT_INITIALIZERS = _child(_P.WEIGHT_INITIALIZERS, 'models')
BATCH_AUGMENTS = _child(_P.BATCH_AUGMENTS, 'models')
TASK_UTILS = _child(_P.TASK_UTILS, 'models')
TOKENIZER = _child(_P.TOKENIZER, 'models')

# Converters from public checkpoint layouts (torchvision, MoCo releases, ...)
# to mmpretrain's ResNet keys. mmpretrain (and mmengine) have no registry of
# this kind, so this one has no parent: it is a root in the mmmedssl scope.
WEIGHT_CONVERTERS = Registry(
    'weight converter', scope='mmmedssl', locations=['mmmedssl.models.utils'])

# Evaluation.
METRICS = _child(_P.METRICS, 'evaluation')
EVALUATORS = _child(_P.EVALUATORS, 'evaluation')

# Visualization.
VISUALIZERS = _child(_P.VISUALIZERS, 'visualization')
VISBACKENDS = _child(_P.VISBACKENDS, 'visualization')

__all__ = [
    'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS',
    'OPTIMIZERS', 'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS',
    'PARAM_SCHEDULERS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS',
    'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'BATCH_AUGMENTS', 'TASK_UTILS',
    'TOKENIZER', 'WEIGHT_CONVERTERS', 'METRICS', 'EVALUATORS', 'VISUALIZERS',
    'VISBACKENDS'
]
