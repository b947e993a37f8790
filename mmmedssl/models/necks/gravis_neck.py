# Copyright (c) mmmedssl contributors. All rights reserved.
from mmmedssl.registry import MODELS
from .projection_neck import ProjectionNeck


@MODELS.register_module()
class GraVISNeck(ProjectionNeck):
    """Projection MLP of GraVIS: [global pool] -> fc -> [norm] -> ReLU -> fc
    -> [L2 normalisation] (``ProjectionNeck``).

    The released head is ``Linear(2048, 2048) -> ReLU -> Linear(2048, 128)``
    with biases, no normalisation layer, and its L2 normalisation commented
    out, so the loss sees raw dot products. ``l2_normalize=True`` makes them
    cosine similarities, which keeps the sigmoid of the loss out of
    saturation (see ``configs/gravis/README.md``).
    """
