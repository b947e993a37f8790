# Copyright (c) mmmedssl contributors. All rights reserved.
from .knn import KNNAccuracy, knn_predict

__all__ = ['KNNAccuracy', 'knn_predict']
