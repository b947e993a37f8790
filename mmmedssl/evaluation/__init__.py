# Copyright (c) mmmedssl contributors. All rights reserved.
from .functional import (binary_auc, classification_metrics,  # noqa: F401
                         multilabel_auc)
from .metrics import *  # noqa: F401,F403
