# Copyright (c) mmmedssl contributors. All rights reserved.
from .classification import MedClassificationMetric
from .knn import KNNAccuracy, knn_predict
from .phase_metrics import (PHASE_PROTOCOLS, SurgicalPhaseMetric,
                            relaxed_phase_scores, summarize_phase_scores)
from .segmentation import (SegmentationMetric, dice_per_class,
                           jaccard_per_class, segmentation_stats,
                           summarize_segmentation)

__all__ = [
    'KNNAccuracy', 'MedClassificationMetric', 'PHASE_PROTOCOLS', 'SurgicalPhaseMetric', 'knn_predict',
    'relaxed_phase_scores', 'summarize_phase_scores', 'SegmentationMetric',
    'dice_per_class', 'jaccard_per_class', 'segmentation_stats',
    'summarize_segmentation'
]
