# Copyright (c) mmmedssl contributors. All rights reserved.
from .classification import MedClassificationMetric
from .knn import KNNAccuracy, knn_predict
from .phase_metrics import (PHASE_PROTOCOLS, SurgicalPhaseMetric,
                            relaxed_phase_scores, summarize_phase_scores)

__all__ = [
    'KNNAccuracy', 'MedClassificationMetric', 'PHASE_PROTOCOLS', 'SurgicalPhaseMetric', 'knn_predict',
    'relaxed_phase_scores', 'summarize_phase_scores'
]
