"""Exact resumption: a training process killed with SIGKILL mid-epoch and resumed ends
with the same weights, bit for bit, as the run that was never stopped.

Each case runs ``tools/train.py`` on the tiny MSNet (mp4, 2 epochs of 3 iterations,
dropout, random crops and flips, validation after each epoch) three times: once
uninterrupted; once paused by ``tests/fault_hooks.PauseHook`` inside epoch 2 (after
epoch 1's checkpoint and validation) and killed there with SIGKILL by this test;
once with ``--resume``. Without RNGStateHook the resumed weights differ (0.44
max abs on this machine, 2026-11-30).
"""
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from conftest import REPO_ROOT, TEST_CONFIGS, VENV_BIN, run_tool, subprocess_env
from mmengine.config import Config

CONFIG = TEST_CONFIGS / 'tiny_msnet_video.py'
ITERS_PER_EPOCH = 3  # 6 training clips, batch size 2
KILL_AT_ITER = ITERS_PER_EPOCH + 1  # one iteration into epoch 2
TRAIN = [str(VENV_BIN / 'python'), str(REPO_ROOT / 'tools' / 'train.py')]
DETERMINISTIC = ['randomness.seed=0', 'randomness.deterministic=True']


def _env(tiny_data) -> dict:
    env = subprocess_env(tiny_data)
    env['PYTHONPATH'] = os.pathsep.join([env['PYTHONPATH'], str(REPO_ROOT / 'tests')])
    return env


def _paused_config(tmp_path: Path, tiny_data, marker: Path) -> Path:
    """The tiny config with PauseHook added after the configs' own hooks."""
    os.environ.setdefault('MS_TINY_DATA', str(tiny_data))
    hooks = [dict(hook) for hook in Config.fromfile(str(CONFIG)).custom_hooks]
    hooks.append(dict(type='PauseHook', at_iter=KILL_AT_ITER, marker=str(marker)))
    path = tmp_path / 'paused.py'
    path.write_text(f'_base_ = [{str(CONFIG)!r}]\n'
                    "custom_imports = dict(imports=['ms_plugin', 'fault_hooks'], "
                    'allow_failed_imports=False)\n'
                    f'custom_hooks = {hooks!r}\n')
    return path


def _weights(path: Path) -> dict:
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


def _kill_when_paused(cmd: list, env: dict, cwd: Path, marker: Path, log: Path) -> None:
    with open(log, 'w') as out:
        proc = subprocess.Popen(cmd, env=env, cwd=str(cwd), stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 240
            while not marker.exists():
                assert proc.poll() is None, f'training ended before the pause:\n' \
                                            f'{log.read_text()[-3000:]}'
                assert time.time() < deadline, 'training did not reach the pause'
                time.sleep(0.2)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize('num_workers', [0, 1])
def test_resume_after_sigkill_mid_epoch_is_bit_identical(num_workers, tiny_data, tmp_path):
    env = _env(tiny_data)
    options = DETERMINISTIC + [f'train_dataloader.num_workers={num_workers}',
                               'train_dataloader.persistent_workers=False']
    reference, killed = tmp_path / 'uninterrupted', tmp_path / 'killed'
    run_tool(TRAIN + [str(CONFIG), '--work-dir', str(reference), '--cfg-options'] + options,
             env, cwd=tmp_path)

    marker = tmp_path / 'paused'
    _kill_when_paused(
        TRAIN + [str(_paused_config(tmp_path, tiny_data, marker)), '--work-dir', str(killed),
                 '--cfg-options'] + options, env, tmp_path, marker, tmp_path / 'killed.log')
    assert marker.read_text().split() == ['1', '1'], 'paused at epoch 2, batch 2 (0-based)'
    assert (killed / 'epoch_1.pth').exists() and not (killed / 'epoch_2.pth').exists()

    log = run_tool(TRAIN + [str(CONFIG), '--work-dir', str(killed), '--resume',
                            '--cfg-options'] + options, env, cwd=tmp_path).stdout
    assert f'resumed epoch: 1, iter: {ITERS_PER_EPOCH}' in log
    assert f'random states restored at iteration {ITERS_PER_EPOCH}' in log

    expected, resumed = _weights(reference / 'epoch_2.pth'), _weights(killed / 'epoch_2.pth')
    assert expected.keys() == resumed.keys()
    different = [key for key in expected if not torch.equal(expected[key], resumed[key])]
    assert not different, f'{len(different)} tensors differ, e.g. {different[:3]}'

    if num_workers == 0:
        # The newest checkpoint is damaged (a kill while writing it): --resume falls back
        # to the one before, says so, and training again ends with the same weights.
        data = (killed / 'epoch_2.pth').read_bytes()
        (killed / 'epoch_2.pth').write_bytes(data[:len(data) // 2])
        log = run_tool(TRAIN + [str(CONFIG), '--work-dir', str(killed), '--resume',
                                '--cfg-options'] + options, env, cwd=tmp_path).stdout
        assert 'Skipping 1 unreadable checkpoint(s)' in log
        assert f'Resuming from {killed / "epoch_1.pth"}' in log
        again = _weights(killed / 'epoch_2.pth')
        assert all(torch.equal(expected[key], again[key]) for key in expected)
