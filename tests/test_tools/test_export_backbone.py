# Copyright (c) mmmedssl contributors. All rights reserved.
"""tools/model_converters/export_backbone.py and ExportBackboneHook: the
exports load into the real torchvision, timm, segmentation_models_pytorch,
MONAI and mmpretrain models and compute what the mmmedssl backbone
computes."""
import json
import os.path as osp
import re
import sys
import textwrap
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config

from mmmedssl.registry import MODELS
from mmmedssl.utils import safe_load

from ..conftest import DEMO_CONFIG, REPO_ROOT, python_tool, tiny_config_text

sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'model_converters'))
import export_backbone  # noqa: E402
import mmmedssl_to_torchvision  # noqa: E402

PCRL_3D_DEMO = osp.join(REPO_ROOT, 'configs', 'pcrl',
                        'pcrl_unet3d-w8_1xb8-coslr-10e_demo.py')
ALL_2D = ['torchvision', 'timm', 'smp', 'monai', 'mmpretrain']


def _randomise(module: nn.Module) -> None:
    """BatchNorm statistics and affines away from their defaults, so that a
    wrongly loaded tensor changes the output."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.1)


def _save_run(model, cfg, work_dir, name='epoch_1.pth'):
    """A checkpoint as mmengine writes it (config text in meta) and the
    last_checkpoint pointer."""
    work_dir.mkdir(parents=True, exist_ok=True)
    path = str(work_dir / name)
    torch.save(dict(meta=dict(cfg=cfg.pretty_text),
                    state_dict=model.state_dict()), path)
    (work_dir / 'last_checkpoint').write_text(path)
    return path


@pytest.fixture(scope='module')
def moco_run(tmp_path_factory):
    """A real-width MoCo v2 ResNet-18 (torchvision and smp have no narrow
    ResNets) saved like a finished run; the backbone in eval mode."""
    from mmengine.registry import DefaultScope

    from mmmedssl.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    torch.manual_seed(0)
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.model.queue_len = 8
    with DefaultScope.overwrite_default_scope('mmmedssl'):
        model = MODELS.build(cfg.model)
    _randomise(model.backbone)
    _randomise(model.momentum_encoder)
    work_dir = tmp_path_factory.mktemp('moco_run')
    path = _save_run(model, cfg, work_dir)
    model.eval()  # mmpretrain's ResNet.eval() returns None
    return SimpleNamespace(work_dir=str(work_dir), path=path,
                           backbone=model.backbone,
                           key_encoder=model.momentum_encoder.module[0])


def _load(path):
    return safe_load(path, map_location='cpu')


def test_export_to_every_2d_target_matches_the_backbone(tmp_path, moco_run,
                                                        capsys):
    out = tmp_path / 'exported'
    # A work dir stands for its last checkpoint.
    assert export_backbone.main(
        [moco_run.work_dir, '--to', *ALL_2D, '--out-dir', str(out)]) == 0
    table = capsys.readouterr().out
    for target in ALL_2D:
        assert re.search(rf'^{target}\s+120/120\s+0\s+0\s+0\s+yes$', table,
                         re.M), table

    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        ref = moco_run.backbone(x)[-1]  # layer4: 512 x 2 x 2
        pooled = ref.mean((2, 3))
        import torchvision
        model = torchvision.models.resnet18(weights=None)
        model.fc = nn.Identity()
        model.load_state_dict(_load(str(out / 'torchvision.pth')))
        torch.testing.assert_close(model.eval()(x), pooled)

        import timm
        model = timm.create_model(
            'resnet18', pretrained=False, num_classes=0, in_chans=3)
        model.load_state_dict(_load(str(out / 'timm.pth')))
        torch.testing.assert_close(model.eval().forward_features(x), ref)

        import segmentation_models_pytorch as smp
        unet = smp.Unet('resnet18', encoder_weights=None, in_channels=3,
                        classes=1)
        unet.encoder.load_state_dict(_load(str(out / 'smp.pth')))
        torch.testing.assert_close(unet.eval().encoder(x)[-1], ref)

        from monai.networks.nets import ResNet
        model = ResNet('basic', [2, 2, 2, 2], [64, 128, 256, 512],
                       spatial_dims=2, n_input_channels=3, conv1_t_size=7,
                       conv1_t_stride=2, shortcut_type='B',
                       bias_downsample=False, feed_forward=False)
        model.load_state_dict(_load(str(out / 'monai.pth')))
        torch.testing.assert_close(model.eval()(x), pooled)

        from mmengine.runner import load_checkpoint
        from mmpretrain.models import ImageClassifier
        model = ImageClassifier(
            backbone=dict(type='ResNet', depth=18),
            neck=dict(type='GlobalAveragePooling'))
        load_checkpoint(model, str(out / 'mmpretrain.pth'), strict=True)
        torch.testing.assert_close(model.eval().extract_feat(x)[-1], pooled)

    # The README's snippets run as written.
    readme = (out / 'README.md').read_text()
    snippets = re.findall(r'```python\n(.*?)```', readme, re.S)
    assert len(snippets) == len(ALL_2D)
    for code in snippets:
        exec(code, {})
    report = json.loads((out / 'report.json').read_text())
    assert report['source']['checkpoint'] == moco_run.path
    assert all(e['ok'] and e['matched'] == 120
               for e in report['exports'].values())


def test_key_encoder_through_a_last_checkpoint_pointer(tmp_path, moco_run):
    pointer = osp.join(moco_run.work_dir, 'last_checkpoint')
    out = str(tmp_path / 'key_encoder_timm.pth')
    proc = python_tool('tools/model_converters/export_backbone.py', pointer,
                       '--to', 'timm', '--out', out, '--prefix',
                       'momentum_encoder.module.0.', timeout=180)
    assert f'wrote {out}' in proc.stdout
    import timm
    model = timm.create_model('resnet18', pretrained=False, num_classes=0)
    model.load_state_dict(_load(out))
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            model.eval().forward_features(x), moco_run.key_encoder(x)[-1])

    # The torchvision-only tool is the same code and takes pointers too.
    tv = str(tmp_path / 'tv.pth')
    assert mmmedssl_to_torchvision.main([pointer, tv]) == 0
    assert torch.equal(
        _load(tv)['conv1.weight'], moco_run.backbone.conv1.weight)


def test_mismatch_exits_non_zero_unless_allow_partial(tmp_path, moco_run,
                                                      capsys):
    out = str(tmp_path / 'resnet34.pth')
    args = [moco_run.path, '--to', 'torchvision', '--depth', '34',
            '--out', out]
    assert export_backbone.main(args) == 1
    captured = capsys.readouterr()
    assert 'missing (80): layer1.2.conv1.weight' in captured.out
    assert '--allow-partial' in captured.err
    assert not osp.exists(out)

    assert export_backbone.main(args + ['--allow-partial']) == 0
    partial = _load(out)
    assert partial['conv1.weight'].shape == (64, 3, 7, 7)

    # A target without a counterpart fails even with --allow-partial.
    assert export_backbone.main(
        [moco_run.path, '--to', 'plain', '--out-dir',
         str(tmp_path / 'plain'), '--allow-partial']) == 1
    assert 'plain has no ResNet' in capsys.readouterr().out


def test_narrow_resnet_goes_to_monai_not_torchvision(tmp_path):
    # The tiny test configs' ResNet-18: stem and base 8 channels.
    backbone = MODELS.build(
        dict(type='ResNet', depth=18, in_channels=1, stem_channels=8,
             base_channels=8))
    _randomise(backbone)
    path = str(tmp_path / 'narrow.pth')
    torch.save(dict(state_dict={
        'backbone.' + k: v for k, v in backbone.state_dict().items()}), path)
    from mmmedssl.apis import export_checkpoint
    _, results = export_checkpoint(path, ['torchvision', 'timm', 'monai',
                                          'auto'])
    ok = {r.target: r.ok for r in results}
    assert ok == dict(torchvision=False, timm=False, monai=True,
                      mmpretrain=True)  # auto: mmpretrain
    assert results[0].report.mismatched[0] == ('conv1.weight', (8, 1, 7, 7),
                                               (64, 1, 7, 7))
    assert any('64-wide stem' in n for n in results[0].report.notes)

    monai = results[2].build_model()
    monai.load_state_dict(results[2].state_dict)
    x = torch.rand(2, 1, 32, 32)
    backbone.eval()
    with torch.no_grad():
        torch.testing.assert_close(monai.eval()(x),
                                   backbone(x)[-1].mean((2, 3)))


def test_pcrl_3d_encoder_exports_to_plain_pytorch(tmp_path, capsys):
    cfg = Config.fromfile(PCRL_3D_DEMO)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    _randomise(model.backbone)
    path = _save_run(model, cfg, tmp_path / 'pcrl3d')
    out = tmp_path / 'exported'
    assert export_backbone.main(
        [path, '--to', 'monai', 'plain', '--out-dir', str(out)]) == 0
    table = capsys.readouterr().out
    assert 'UNet3DEncoder(in_channels=1, base_channels=8' in table
    assert 'MONAI has no Models Genesis encoder' in table

    from mmmedssl.models.utils.weights.plain_unet3d import \
        PlainUNet3DEncoder
    plain = PlainUNet3DEncoder(in_channels=1, base_channels=8, num_levels=4,
                               norm='batch', conv_bias=True)
    plain.load_state_dict(_load(str(out / 'plain.pth')))
    assert _load(str(out / 'monai.pth')).keys() == plain.state_dict().keys()
    x = torch.rand(1, 1, 16, 16, 16)
    model.eval()
    with torch.no_grad():
        for got, want in zip(plain.eval()(x), model.backbone(x)):
            torch.testing.assert_close(got, want)

    # No 2D library has it: the row says so and the exit status is 1.
    assert export_backbone.main([path, '--to', 'timm', '--out-dir',
                                 str(tmp_path / 'timm')]) == 1
    assert 'timm has no UNet3DEncoder; export it with --to monai / plain' \
        in capsys.readouterr().out


def test_training_run_exports_at_its_end(tmp_path, tiny_demo_data):
    from mmmedssl.apis import build_runner, sanitize_dataloaders
    config = tmp_path / 'cfg.py'
    # Real widths so that torchvision (64-wide only) fits: 'auto' exports
    # torchvision and timm.
    config.write_text(tiny_config_text(tiny_demo_data, textwrap.dedent('''
        model = dict(
            queue_len=32,
            feat_dim=8,
            backbone=dict(stem_channels=64, base_channels=64),
            neck=dict(in_channels=512, hid_channels=16, out_channels=8))
        train_cfg.update(max_epochs=1, val_interval=5)
    ''')))
    cfg = Config.fromfile(str(config))
    cfg.work_dir = str(tmp_path / 'run')
    sanitize_dataloaders(cfg)
    runner = build_runner(cfg)
    runner.train()

    out = osp.join(cfg.work_dir, 'exported')
    report = json.load(open(osp.join(out, 'report.json')))
    assert sorted(report['exports']) == ['timm', 'torchvision']
    assert report['source']['last_checkpoint'].endswith('epoch_1.pth')
    runner.model.eval()
    backbone = runner.model.backbone
    x = torch.rand(2, 3, 32, 32)
    import timm
    import torchvision
    tv = torchvision.models.resnet18(weights=None)
    tv.fc = nn.Identity()
    tv.load_state_dict(_load(osp.join(out, 'torchvision.pth')))
    tm = timm.create_model('resnet18', pretrained=False, num_classes=0)
    tm.load_state_dict(_load(osp.join(out, 'timm.pth')))
    with torch.no_grad():
        ref = backbone(x)[-1]
        torch.testing.assert_close(tv.eval()(x), ref.mean((2, 3)))
        torch.testing.assert_close(tm.eval().forward_features(x), ref)
    assert 'timm.create_model' in open(osp.join(out, 'README.md')).read()


def test_hook_warns_instead_of_failing_on_other_backbones(tmp_path):
    from mmmedssl.engine.hooks import ExportBackboneHook
    warnings = []
    model = nn.Module()
    model.backbone = nn.Linear(2, 2)
    runner = SimpleNamespace(
        model=model, cfg=Config(dict(model=dict())),
        work_dir=str(tmp_path), epoch=1, iter=1,
        logger=SimpleNamespace(warning=warnings.append, info=print))
    hook = ExportBackboneHook(pretraining_only=False)
    hook.before_run(runner)
    hook.after_run(runner)  # no training: nothing at all
    hook.after_train(runner)
    hook.after_run(runner)
    assert len(warnings) == 1
    assert 'Cannot export this backbone' in warnings[0]
    assert not osp.exists(osp.join(str(tmp_path), 'exported'))
    with pytest.raises(ValueError, match='unknown targets'):
        ExportBackboneHook(targets=('keras', ))


def test_the_saved_config_is_parsed_not_run(tmp_path):
    """A downloaded checkpoint's config text must not execute."""
    backbone = MODELS.build(dict(type='ResNet', depth=18, base_channels=8,
                                 stem_channels=8))
    marker = tmp_path / 'ran'
    text = (f'import pathlib\npathlib.Path({str(marker)!r}).touch()\n'
            "model = dict(backbone=dict(type='ResNet', depth=18, "
            "dilations=(1, 1, 2, 4)))\n")
    path = str(tmp_path / 'ckpt.pth')
    torch.save(dict(meta=dict(cfg=text), state_dict={
        'backbone.' + k: v for k, v in backbone.state_dict().items()}), path)
    from mmmedssl.models.utils.weights.export import export_backbone as export
    result = export(path, 'monai')
    assert not marker.exists()
    # ... but its literal values are read: MONAI cannot dilate.
    assert not result.ok and result.report.matched == 120
    assert 'dilations=(1, 1, 2, 4)' in result.report.problems[0]


def test_generated_code_takes_only_plain_names_and_literals():
    """A checkpoint's config reaches the code that builds the target model:
    keys must be plain names and values literals."""
    from mmmedssl.models.utils.weights.export import _call
    assert _call('f', 2, norm_cfg=dict(type='BN')) == \
        "f(2, norm_cfg=dict(type='BN'))"
    with pytest.raises(ValueError, match='not a plain name'):
        _call('f', norm_cfg={"type='BN'),__import__('os').system('x'": 1})
    with pytest.raises(ValueError, match='not a plain name'):
        _call('f', **{'a=1,b': 2})
    with pytest.raises(ValueError, match='unexpected config value'):
        _call('f', x=object())
