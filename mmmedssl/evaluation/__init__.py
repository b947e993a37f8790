# Copyright (c) mmmedssl contributors. All rights reserved.
from .linear_probe import (LinearProbe, classification_metrics,  # noqa: F401
                           extract_features, fit_linear_probe,
                           label_fraction_indices, multilabel_auc,
                           split_groups)
from .metrics import *  # noqa: F401,F403
