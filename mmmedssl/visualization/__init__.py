# Copyright (c) mmmedssl contributors. All rights reserved.
# mmpretrain's UniversalVisualizer and vis backends resolve through the
# registry parent; mmmedssl-specific visualisers go here.
__all__ = []
