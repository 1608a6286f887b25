"""tools/convert_official_ckpt.py: reference checkpoint -> plugin model, same logits.

The reference model is ``tests/reference_msnet.py``: the authors' module layout
and forward, written independently of ``ms_plugin.ops`` (naive correlation).
"""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import ms_plugin  # noqa: F401
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from ms_plugin.models import capture_motion
from ms_plugin.utils.errors import InputError
from ms_plugin.utils.official_ckpt import (convert_reference_state_dict, describe_reference,
                                           reconcile_with_model)

sys.path.insert(0, str(Path(__file__).parent))
from conftest import load_tool  # noqa: E402
from reference_msnet import RefTSN, randomize_, reference_checkpoint  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TOOL = REPO / 'tools' / 'convert_official_ckpt.py'
NUM_CLASSES = 10
FRAMES = 8
SIZE = 64  # MS after layer2 then sees 8x8


def _tool_module():
    return load_tool('convert_official_ckpt')


def _plugin_model(depth: int, num_classes: int = NUM_CLASSES):
    init_default_scope('mmaction')
    return MODELS.build(dict(type='MSNet', backbone=dict(depth=depth, num_segments=FRAMES),
                             cls_head=dict(num_classes=num_classes))).eval()


def _reference(depth: int, dropout: float = 0.5, seed: int = 0,
               num_classes: int = NUM_CLASSES) -> RefTSN:
    torch.manual_seed(seed)
    return randomize_(RefTSN(depth, FRAMES, num_classes, dropout), seed=seed).eval()


def _logits(model, frames: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        feats, kwargs = model.extract_feat(frames)
        return model.cls_head(feats, **kwargs)


def _assert_same_outputs(ref: RefTSN, model, seed: int = 1) -> None:
    """Logits and motion maps agree in float64 (argmax ties cannot flip there)."""
    ref, model = ref.double(), model.double()
    frames = torch.randn(2, FRAMES, 3, SIZE, SIZE, dtype=torch.float64,
                         generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        expected = ref(frames)
    ms = model.backbone.ms_layer2
    with capture_motion(ms) as motion:
        got = _logits(model, frames)
    torch.testing.assert_close(got, expected, rtol=1e-7, atol=1e-7 * expected.abs().max().item())
    # The motion maps too: reduce (chnl_reduction) is mapped and dx/dy are not swapped.
    base = ref.base_model
    with torch.no_grad():
        x = base.maxpool(torch.relu(base.bn1(base.conv1(frames.flatten(0, 1)))))
        ref_motion = base.motion(base.layer2(base.layer1(x)))
    torch.testing.assert_close(motion[''][-1], ref_motion, rtol=1e-6, atol=1e-7)
    # The comparison sees the MS branch: without its output the logits move.
    last_bn = ms.transform[3].pointwise.bn
    saved = last_bn.bias.detach().clone(), last_bn.weight.detach().clone()
    with torch.no_grad():
        last_bn.weight.zero_()
        last_bn.bias.fill_(-1.0)  # ReLU then zeroes the motion features
        without_ms = _logits(model, frames)
        last_bn.bias.copy_(saved[0])
        last_bn.weight.copy_(saved[1])
    assert (without_ms - expected).abs().max() > 1e-3 * expected.abs().max()


def test_cli_converts_r50_for_the_sthv1_config_and_reproduces_reference_logits(tmp_path):
    config = REPO / 'configs' / 'msnet_r50_sthv1.py'
    cfg = Config.fromfile(str(config))
    num_classes = cfg.model.cls_head.num_classes  # 174, Something-Something V1
    ref = _reference(50, num_classes=num_classes)
    src = tmp_path / 'ms_epoch_40.pth.tar'
    torch.save(reference_checkpoint(ref), src)
    dst = tmp_path / 'converted.pth'
    proc = subprocess.run([sys.executable, str(TOOL), str(src), str(dst), '--config', str(config)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'ResNet-50' in proc.stdout and 'MotionSqueeze: yes' in proc.stdout
    assert 'dropped module.base_model.bn2.running_mean' in proc.stdout

    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert set(ckpt) == {'state_dict', 'meta'}
    assert ckpt['meta']['epoch'] == 40 and ckpt['meta']['arch'] == 'MS'
    assert not any('bn2' in k and 'layer' not in k for k in ckpt['state_dict'])

    init_default_scope('mmaction')
    model = MODELS.build(cfg.model).eval()
    load_checkpoint(model, str(dst), map_location='cpu', strict=True)
    _assert_same_outputs(ref, model)


def test_r18_without_dropout_and_without_bn_counters():
    """dropout 0 puts the classifier in ``base_model.fc1``; torch<0.4.1 lacks counters."""
    ref = _reference(18, dropout=0.0, seed=3)
    state = {k: v for k, v in reference_checkpoint(ref)['state_dict'].items()
             if not k.endswith('num_batches_tracked')}
    assert describe_reference(state) == dict(depth=18, blocks=(2, 2, 2, 2), motion_squeeze=True,
                                             num_classes=NUM_CLASSES)
    model = _plugin_model(18)
    converted, report = convert_reference_state_dict(state)
    converted, report = reconcile_with_model(converted, model.state_dict(), report)
    assert report.ok, '\n'.join(report.lines())
    assert report.converted['module.base_model.fc1.weight'] == 'cls_head.fc_cls.weight'
    assert 'backbone.ms_layer2.reduce.bn.num_batches_tracked' in report.added
    model.load_state_dict(converted, strict=True)
    _assert_same_outputs(ref, model, seed=2)


def test_mismatches_are_reported_and_nothing_is_written(tmp_path, capsys):
    tool = _tool_module()
    ref = _reference(18)
    ckpt = reference_checkpoint(ref)
    ckpt['state_dict']['module.base_model.extra_head.weight'] = torch.zeros(3)
    src = tmp_path / 'odd.pth'
    torch.save(ckpt, src)
    dst = tmp_path / 'out.pth'
    with pytest.raises(InputError, match='does not match the expected layout'):
        tool.convert(str(src), str(dst))
    assert 'module.base_model.extra_head.weight' in capsys.readouterr().out
    assert not dst.exists()

    # A class count the config does not have: named, with the fix.
    del ckpt['state_dict']['module.base_model.extra_head.weight']
    torch.save(ckpt, src)
    config = tmp_path / 'msnet_r18_5cls.py'
    config.write_text("model = dict(type='MSNet', backbone=dict(depth=18), "
                      "cls_head=dict(num_classes=5))\n")
    with pytest.raises(InputError, match=f'num_classes={NUM_CLASSES}'):
        tool.convert(str(src), str(dst), config=str(config))
    assert 'shape mismatch at cls_head.fc_cls.weight' in capsys.readouterr().out
    assert not dst.exists()
    # ... and --cfg-options fixes it.
    tool.convert(str(src), str(dst), config=str(config),
                 cfg_options={'model.cls_head.num_classes': NUM_CLASSES})
    assert dst.exists()
