# Copyright (c) mmmedssl contributors. All rights reserved.
from .linear_probe import (LinearProbe, classification_metrics,  # noqa: F401
                           extract_features, fit_linear_probe,
                           label_fraction_indices, multilabel_auc,
                           split_groups)
from .metrics import *  # noqa: F401,F403
from .phase_recognition import (VideoFeatures, evaluate_phase_model,  # noqa
                                fit_phase_tcn, group_by_video)
