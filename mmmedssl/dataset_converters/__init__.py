# Copyright (c) mmmedssl contributors. All rights reserved.
"""Offline preprocessing behind ``tools/dataset_converters``: the parts of
those scripts that are worth importing and testing on their own. Nothing
here is a dataset; datasets read what these write."""
