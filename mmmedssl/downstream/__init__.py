# Copyright (c) mmmedssl contributors. All rights reserved.
"""Downstream evaluation of pretrained backbones: the library behind
``tools/analysis_tools/{knn_eval,linear_probe,phase_recognition}.py`` and
``tools/benchmarks/{run_benchmark,colour_cue}.py``."""
from .checkpoint import resolve_checkpoint
from .evaluation_model import (build_eval_model, load_tool_config,
                               load_tool_config_from_args, reset_loggers)
from .features import Features, extract_features
from .finetune import best_checkpoint, downstream_config, train_and_test
from .knn import evaluate_knn
from .linear_probe import (DEFAULT_WEIGHT_DECAYS, SELECTION_RULES,
                           LabelledSplit, LinearProbe, build_split_loaders,
                           compare_selection_rules, extract_split_features,
                           fit_linear_probe, load_labelled_split, probe_task,
                           probe_train_indices, run_probe,
                           select_weight_decay)
from .phase import (VideoFeatures, evaluate_phase_backbone,
                    evaluate_phase_model, fit_phase_tcn, group_by_video,
                    phase_split_loaders, video_features)
from .study import Study, StudyRunner, probe_backbone_over_seeds
from .tables import format_table, json_safe, read_json, write_json

__all__ = [
    'DEFAULT_WEIGHT_DECAYS', 'Features', 'LabelledSplit', 'LinearProbe',
    'SELECTION_RULES', 'Study', 'StudyRunner', 'VideoFeatures',
    'best_checkpoint', 'build_eval_model', 'build_split_loaders',
    'compare_selection_rules', 'downstream_config',
    'evaluate_knn', 'evaluate_phase_backbone', 'evaluate_phase_model',
    'extract_features', 'extract_split_features', 'fit_linear_probe',
    'fit_phase_tcn', 'format_table', 'group_by_video', 'json_safe',
    'load_labelled_split', 'load_tool_config', 'load_tool_config_from_args',
    'phase_split_loaders',
    'probe_backbone_over_seeds', 'probe_task', 'probe_train_indices',
    'read_json', 'reset_loggers', 'resolve_checkpoint', 'run_probe',
    'select_weight_decay',
    'train_and_test', 'video_features', 'write_json'
]
