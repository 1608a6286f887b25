"""Every shipped config trains and tests on data in MMAction2's real formats.

The runs are the README's commands, ``python tools/train.py CONFIG`` and
``python tools/test.py CONFIG CKPT``, launched from a folder that holds
``data/`` as MMAction2's preparation tools write it (see
:mod:`mmaction_data`), without ``--seed``, offline (downloads are refused; the
ImageNet weights lie where the README says to put them), with only the
CPU-size options of :mod:`cpu_substitutions`.
"""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT
from cpu_substitutions import TRAIN_OPTIONS, cpu_test_options

# Not run here: MMAction2's Swin config trains with AmpOptimWrapper, which mmengine
# refuses without a GPU, and one Swin-T step of 32x224x224 takes about 17 s on 2 cores.
# tests/test_configs.py builds it, trains a step (without AMP) and checks the swap.
GPU_ONLY = {'configs/examples/swin_tiny_k400_swap_ms.py'}
FOUND = {str(p.relative_to(REPO_ROOT)) for p in [
    *(REPO_ROOT / 'configs').glob('*.py'), *(REPO_ROOT / 'configs' / 'examples').glob('*.py')]}
# Kinetics first: the HMDB51 config fine-tunes the Kinetics checkpoint.
SHIPPED = sorted(FOUND - GPU_ONLY, key=lambda name: ('hmdb51' in name, name))
STACK_WARNINGS = ('MultiScaleDeformableAttention', 'pkg_resources')


def run(cmd: str, root: Path, env: dict) -> str:
    proc = subprocess.run(cmd, shell=True, cwd=str(root), env=env, text=True, timeout=900,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.returncode == 0, f'{cmd}\nexited with {proc.returncode}:\n{proc.stdout[-5000:]}'
    for warning in STACK_WARNINGS:
        assert warning not in proc.stdout, f'{cmd} printed a {warning} warning'
    return proc.stdout


def stand_in_for_last_epoch(root: Path) -> None:
    """``msnet_r50_hmdb51.py`` starts from ``work_dirs/msnet_r50_k400/epoch_75.pth``: the
    end of the Kinetics schedule, here its one epoch."""
    k400 = root / 'work_dirs' / 'msnet_r50_k400'
    assert (k400 / 'epoch_1.pth').is_file(), 'the Kinetics config runs first'
    if not (k400 / 'epoch_75.pth').exists():
        (k400 / 'epoch_75.pth').symlink_to(k400 / 'epoch_1.pth')


def test_every_shipped_config_is_tested():
    assert len(SHIPPED) >= 10 and GPU_ONLY <= FOUND
    assert SHIPPED.index('configs/msnet_r50_k400.py') < SHIPPED.index(
        'configs/msnet_r50_hmdb51.py')


# HMDB51 fine-tunes the Kinetics checkpoint: both on one pytest-xdist worker, in order.
CHAINED = pytest.mark.xdist_group('kinetics_then_hmdb51')


@pytest.mark.parametrize('config', [
    pytest.param(config, marks=CHAINED)
    if config in ('configs/msnet_r50_k400.py', 'configs/msnet_r50_hmdb51.py') else config
    for config in SHIPPED])
def test_shipped_config_trains_and_tests_on_mmaction_data(config, user_root, user_env):
    name = Path(config).stem
    if 'hmdb51' in name:
        stand_in_for_last_epoch(user_root)
    env = dict(user_env, PYTHONWARNINGS='default')  # what a user sees
    out = run(f'{sys.executable} tools/train.py {config} --cfg-options {" ".join(TRAIN_OPTIONS)}',
              user_root, env)
    # No --seed: a random one, logged.
    assert re.search(r'randomness = dict\(seed=None\)', out)
    assert re.search(r'^\s+seed: \d+$', out, re.M)
    assert re.search(r'Epoch\(train\) \[1\]\[(\d+)/\1\]', out), 'one whole epoch'
    # work_dirs/<config name>, or the config's own work_dir (HMDB51: ..._split1)
    checkpoints = list((user_root / 'work_dirs').glob(f'{name}*/epoch_1.pth'))
    assert len(checkpoints) == 1, checkpoints
    checkpoint = checkpoints[0]
    options = ' '.join(cpu_test_options(str(user_root / config)))
    out = run(f'{sys.executable} tools/test.py {config} {checkpoint.relative_to(user_root)} '
              f'--cfg-options {options}', user_root, env)
    assert re.search(r'Epoch\(test\) \[1/1\]\s+acc/top1: [0-9.]+', out), out[-2000:]
