# Copyright (c) mmmedssl contributors. All rights reserved.
"""What a user may name as "the checkpoint": a file, a ``last_checkpoint``
pointer or a work dir (:func:`mmmedssl.engine.checkpoints.resolve_checkpoint`,
kept here for the downstream tools)."""
from mmmedssl.engine.checkpoints import resolve_checkpoint

__all__ = ['resolve_checkpoint']
