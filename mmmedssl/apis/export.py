# Copyright (c) mmmedssl contributors. All rights reserved.
"""Export the backbone of a checkpoint, a ``last_checkpoint`` pointer or a
work dir for other libraries (the library behind
``tools/model_converters/export_backbone.py``)."""
from typing import List, Optional, Sequence, Tuple, Union

from mmmedssl.models.utils.weights.export import (ExportResult,
                                                  backbone_state_dict,
                                                  infer_arch, resolve_targets,
                                                  try_export)


def export_checkpoint(checkpoint: str,
                      targets: Union[str, Sequence[str]] = 'auto',
                      prefix: str = 'backbone.',
                      depth: Optional[int] = None
                      ) -> Tuple[str, List[ExportResult]]:
    """Export the backbone under ``prefix`` to each target.

    Args:
        checkpoint (str): A checkpoint file, a ``last_checkpoint`` pointer
            or a work dir (its ``last_checkpoint``, else its newest
            ``epoch_*``/``iter_*`` file).
        targets (str | Sequence[str]): Names from
            :data:`~mmmedssl.models.utils.weights.export.TARGETS`, or
            ``'auto'`` (torchvision and timm where they fit a ResNet, else
            mmpretrain; plain for the 3D U-Net encoder).
        prefix (str): The backbone's key prefix. Defaults to 'backbone.'.
        depth (int, optional): Build ResNet targets at this depth instead
            of the inferred one.

    Returns:
        tuple[str, list[ExportResult]]: The checkpoint file read, and one
        result per target (``result.report.error`` set for a target that
        could not be built).

    Raises:
        FileNotFoundError: no checkpoint there.
        ValueError: nothing under ``prefix``, or not an exportable backbone.
    """
    # mmmedssl.downstream imports mmmedssl.apis: imported when called.
    from mmmedssl.downstream.checkpoint import resolve_checkpoint
    path = resolve_checkpoint(checkpoint)
    state_dict, backbone_cfg = backbone_state_dict(path, prefix)
    arch = infer_arch(state_dict, backbone_cfg, depth)
    names = resolve_targets(targets, arch)
    return path, try_export(state_dict, names, backbone_cfg, depth,
                            dict(source=path, prefix=prefix))
