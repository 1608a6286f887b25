"""The fixes of ms_plugin.compat, each against the defect it absorbs.

The fixes are process-wide, so "without the fix" runs in a fresh interpreter
(``sys.executable -c``) that never imports ms_plugin; "with the fix" runs here,
where this module imports ms_plugin.
"""
import collections
import configparser
import json
import os
import pickle
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from mmaction.registry import MODELS
from mmengine.registry import DefaultScope
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint
from torch.utils.data import DataLoader

import ms_plugin  # noqa: F401  (applies the fixes in this process)
from ms_plugin import compat

DRN_MISSING = compat._drn_is_missing()
SAFE_GLOBALS_NEEDED = compat._mmengine_needs_safe_globals()


class ToyModel(BaseModel):
    """The smallest MMEngine model: a linear layer and a squared-error loss."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, targets, mode='tensor'):
        outputs = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=((outputs - targets)**2).mean())
        return outputs


class NotAllowed:
    """A class of our own: weights_only loading must refuse to build it."""

    def __init__(self, value: int = 1) -> None:
        self.value = value


class GetattrPayload:
    """Pickles as ``getattr(owner, name)``: the shape of HistoryBuffer's own pickles."""

    def __init__(self, owner: type, name: str) -> None:
        self.owner, self.name = owner, name

    def __reduce__(self):
        return getattr, (self.owner, self.name)


def _toy_loader() -> DataLoader:
    """Four samples in two batches of dicts, what ToyModel.forward takes."""
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(4, 2, generator=generator)
    samples = [dict(inputs=x, targets=x.sum(0, keepdim=True)) for x in inputs]
    return DataLoader(samples, batch_size=2, shuffle=False)


@pytest.fixture(scope='module')
def runner_checkpoint(tmp_path_factory) -> Path:
    """A checkpoint written by an MMEngine Runner: 1 epoch, SGD, MultiStepLR."""
    work_dir = tmp_path_factory.mktemp('toy_runner')
    runner = Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=_toy_loader(),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        param_scheduler=dict(type='MultiStepLR', milestones=[1], by_epoch=True),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        default_scope='mmengine',
        experiment_name='toy_runner_for_compat')
    runner.train()
    checkpoint = work_dir / 'epoch_1.pth'
    assert checkpoint.is_file()
    return checkpoint


@pytest.fixture(scope='module')
def without_plugin(runner_checkpoint) -> dict:
    """What a fresh interpreter that never imports ms_plugin gets."""
    probe = textwrap.dedent(f"""
        import json, sys
        results = {{}}
        try:
            from mmengine.runner.checkpoint import _load_checkpoint
            _load_checkpoint({str(runner_checkpoint)!r}, map_location='cpu')
            results['load'] = 'ok'
        except Exception as error:
            results['load'] = type(error).__name__ + ': ' + str(error)
        try:
            import mmaction.models
            results['import'] = 'ok'
        except Exception as error:
            results['import'] = type(error).__name__ + ': ' + str(error)
        results['ms_plugin_loaded'] = 'ms_plugin' in sys.modules
        print(json.dumps(results))
    """)
    proc = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert results['ms_plugin_loaded'] is False
    return results


# ------------------------------------------------------------------ (a) DRN
@pytest.mark.skipif(not DRN_MISSING, reason='the installed mmaction2 ships DRN')
def test_mmaction_models_import_fails_without_the_plugin(without_plugin):
    assert without_plugin['import'].startswith('ModuleNotFoundError')
    assert 'drn' in without_plugin['import']


def test_mmaction_models_imports_with_the_plugin():
    import mmaction.models  # noqa: F401  (the import is what is tested)
    assert MODELS.get('TSMHead') is not None
    assert MODELS.get('DRN') is not None


def test_building_drn_raises_a_clear_error():
    if not DRN_MISSING:
        pytest.skip('the installed mmaction2 ships the real DRN')
    with DefaultScope.overwrite_default_scope('mmaction'), \
            pytest.raises(ImportError, match='DRN') as error:
        MODELS.build(dict(type='DRN'))
    assert '2714' in str(error.value)  # points at the upstream issue


# ----------------------------------------------------------- (b) checkpoints
@pytest.mark.skipif(not SAFE_GLOBALS_NEEDED, reason='torch < 2.6 or a fixed mmengine')
def test_runner_checkpoint_fails_to_load_without_the_plugin(without_plugin):
    assert without_plugin['load'].startswith('UnpicklingError'), without_plugin['load']


def test_runner_checkpoint_loads_with_the_plugin(runner_checkpoint):
    checkpoint = _load_checkpoint(str(runner_checkpoint), map_location='cpu')
    assert checkpoint['meta']['epoch'] == 1
    assert set(checkpoint['state_dict']) == {'linear.weight', 'linear.bias'}
    # What needed the allow-list: HistoryBuffers and a Counter of milestones.
    buffers = checkpoint['message_hub']['log_scalars']
    assert isinstance(buffers['train/loss'], HistoryBuffer)
    assert len(buffers['train/loss'].data[0]) == 2  # one loss per iteration
    milestones = checkpoint['param_schedulers'][0]['milestones']
    assert isinstance(milestones, collections.Counter) and milestones == {1: 1}


# ------------------------------------------------------------------ (c) safety
def _save(obj, path: Path) -> Path:
    torch.save(obj, path)
    return path


def test_weights_only_still_refuses_other_classes(tmp_path):
    path = _save(dict(payload=NotAllowed(3)), tmp_path / 'custom.pth')
    with pytest.raises(pickle.UnpicklingError, match='NotAllowed'):
        torch.load(path, weights_only=True)
    assert torch.load(path, weights_only=False)['payload'].value == 3


@pytest.mark.skipif(not SAFE_GLOBALS_NEEDED, reason='the limited getattr is not installed')
@pytest.mark.parametrize('owner, name', [(HistoryBuffer, '__init__'),
                                         (HistoryBuffer, '_set_default_statistics'),
                                         (collections.Counter, 'update')])
def test_limited_getattr_refuses_other_attributes(tmp_path, owner, name):
    path = _save(dict(payload=GetattrPayload(owner, name)), tmp_path / 'getattr.pth')
    with pytest.raises(pickle.UnpicklingError, match='getattr'):
        torch.load(path)


def test_limited_getattr_allows_history_buffer_statistics(tmp_path):
    path = _save(dict(payload=GetattrPayload(HistoryBuffer, 'min')), tmp_path / 'min.pth')
    assert torch.load(path)['payload'] is HistoryBuffer.min


# ---------------------------------------------------------------- (d) idempotent
def test_apply_all_twice_is_harmless(runner_checkpoint):
    drn_before = MODELS.get('DRN')
    # torch < 2.4 has no allow-list (compat.load_weights_only_kwargs).
    safe_globals = getattr(torch.serialization, 'get_safe_globals', list)
    safe_before = set(safe_globals())
    first = compat.apply_all()
    second = compat.apply_all()
    assert first['drn'] is False and second['drn'] is False  # installed on import already
    assert first['zero_workers'] is False and second['zero_workers'] is False
    assert MODELS.get('DRN') is drn_before
    assert set(safe_globals()) == safe_before
    assert _load_checkpoint(str(runner_checkpoint), map_location='cpu')['meta']['epoch'] == 1


# ------------------------------------------------------------ (e) versions
@pytest.mark.parametrize('torch_version, mmcv_version, match', [
    ('2.0.1', '2.1.0', r"torch 2\.0\.1 is installed.*'torch>=2\.1\.2,<2\.15'"),
    ('1.13.1+cu117', '2.1.0', r'torch 1\.13\.1\+cu117 is installed'),
    ('2.1.2', '2.2.0', r"needs 'mmcv>=2\.0\.0rc4,<2\.2\.0', but mmcv 2\.2\.0 is installed"),
    ('2.1.2', '1.7.2', r'mmcv 1\.7\.2 is installed'),
])
def test_unsupported_versions_are_refused_in_one_line(torch_version, mmcv_version, match):
    with pytest.raises(ImportError, match=match) as error:
        compat.check_versions(torch_version, mmcv_version)
    assert '\n' not in str(error.value)


@pytest.mark.parametrize('torch_version, mmcv_version', [
    ('2.1.2+cu121', '2.1.0'), ('2.14.1', '2.0.0rc4'), ('2.1.2', '2.1.0')])
def test_supported_versions_pass_without_a_warning(torch_version, mmcv_version):
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # a refusal or an "untested" warning fails the test
        compat.check_versions(torch_version, mmcv_version)


@pytest.mark.parametrize('torch_version, mmcv_version, supported', [
    ('2.1.2+cu121', '2.1.0', True),  # a local build tag is ignored
    ('2.1.1+cu121', '2.1.0', False),
    ('2.1.2', '2.0.0rc4', True),  # pre-releases order before their release
    ('2.1.2', '2.0.0rc3', False),
    ('2.1.2', '2.1.0.post1', True),
    ('2.1.2rc1', '2.1.0', False),  # a release candidate of the lowest torch is older than it
])
def test_version_strings_compare_as_releases(torch_version, mmcv_version, supported):
    if supported:
        compat.check_versions(torch_version, mmcv_version)
    else:
        with pytest.raises(ImportError, match='is installed'):
            compat.check_versions(torch_version, mmcv_version)


def test_newer_torch_only_warns():
    with pytest.warns(UserWarning, match='untested'):
        compat.check_versions('2.15.0', '2.1.0')


def test_import_fails_first_with_the_version_line():
    # A real import with an old torch version: the error is ours, not one from
    # deep inside mmaction or a forward pass.
    code = ("import torch; torch.__version__ = '2.0.1'\n"
            'try:\n    import ms_plugin\nexcept ImportError as e:\n    print(e)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=300).stdout
    assert out.startswith('ms_plugin needs torch 2.1.2 or newer'), out


def test_setup_cfg_states_the_tested_torch_range():
    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).parents[1] / 'setup.cfg')
    requires = cfg['options']['install_requires']
    assert f'torch>={compat.TORCH_RANGE[0]},<{compat.TORCH_RANGE[1]}' in requires
    lite = cfg['options.extras_require']['lite']
    assert lite.startswith('mmcv-lite>=')


# ------------------------------------------------------- (f) loaders without workers
def test_persistent_workers_with_zero_workers_builds_a_loader():
    # PyTorch refuses persistent_workers=True with num_workers=0 (ValueError) without the fix.
    loader = Runner.build_dataloader(
        dict(dataset=[1, 2, 3], batch_size=2, num_workers=0, persistent_workers=True,
             sampler=dict(type='DefaultSampler', shuffle=False)))
    assert loader.persistent_workers is False
    assert [len(batch) for batch in loader] == [2, 1]
