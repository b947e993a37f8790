# Copyright (c) mmmedssl contributors. All rights reserved.
import torch
from mmengine.runner import save_checkpoint

from mmmedssl.apis import init_model


def test_init_model_builds_and_loads(tiny_config, tmp_path):
    model = init_model(tiny_config)
    assert type(model).__name__ == 'MedMoCo' and not model.training
    with torch.no_grad():
        model.backbone.conv1.weight.fill_(0.5)
    path = str(tmp_path / 'w.pth')
    save_checkpoint({'state_dict': model.state_dict()}, path)
    loaded = init_model(tiny_config, checkpoint=path)
    assert torch.all(loaded.backbone.conv1.weight == 0.5)
    feats = loaded.extract_pooled_feat(torch.rand(2, 3, 32, 32))
    assert feats.shape == (2, 64)
