"""Distributed training and testing on the CPU, and the launcher scripts.

``tools/dist_train.sh CONFIG 2`` then ``tools/dist_test.sh CONFIG CKPT 2`` on the
tiny MSNet (JPEG frame folders). Without CUDA, tools/train.py and tools/test.py
must pick the gloo backend and wrap the model in DDP without device_ids;
MMEngine's own start would call torch.cuda.set_device and fail. The launcher
scripts' argument and environment handling is checked against stand-in
``torchrun`` and ``srun`` executables that print what they receive.
"""
import os
import pickle
import socket
import subprocess

import pytest
import torch
import torch.distributed as torch_dist
from ms_plugin.engine import runner

from conftest import (REPO_ROOT, TEST_CONFIGS, latest_run_dir, read_json_lines,
                      run_tool, subprocess_env)
from mmengine.config import Config

CONFIG = TEST_CONFIGS / 'tiny_msnet_rawframes.py'
WORLD_SIZE = 2
NUM_TRAIN_CLIPS = 6  # conftest.write_tiny_dataset
NUM_VAL_CLIPS = 3
BATCH_SIZE = 2  # per process


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _env(tiny_data) -> dict:
    env = subprocess_env(tiny_data)
    env['PORT'] = str(_free_port())
    return env


@pytest.fixture(scope='module')
def dist_run(tiny_data, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('dist') / 'train'
    proc = run_tool([REPO_ROOT / 'tools' / 'dist_train.sh', CONFIG, WORLD_SIZE,
                     '--work-dir', work_dir, '--cfg-options', 'train_cfg.max_epochs=1'],
                    _env(tiny_data), cwd=work_dir.parent)
    return work_dir, proc.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU (gloo) fallback')
def test_dist_train_two_cpu_processes(dist_run):
    work_dir, log = dist_run
    run_dir = latest_run_dir(work_dir)
    run_log = (run_dir / f'{run_dir.name}.log').read_text()
    assert 'Distributed training: True' in run_log
    assert f'GPU number: {WORLD_SIZE}' in run_log  # MMEngine's name for the world size
    assert "'backend': 'gloo'" in run_log
    # DefaultSampler splits the clips between the ranks: half the iterations of one process.
    iters = -(-NUM_TRAIN_CLIPS // (WORLD_SIZE * BATCH_SIZE))
    train = [r for r in read_json_lines(run_dir / 'vis_data' / 'scalars.json') if 'loss' in r]
    assert [r['iter'] for r in train] == list(range(1, iters + 1))
    assert iters < NUM_TRAIN_CLIPS // BATCH_SIZE
    checkpoint = torch.load(work_dir / 'epoch_1.pth', map_location='cpu', weights_only=False)
    assert checkpoint['meta']['epoch'] == 1
    assert any(key.startswith('backbone.') for key in checkpoint['state_dict'])
    assert not any(key.startswith('module.') for key in checkpoint['state_dict']), \
        'the DDP wrapper must not leak into checkpoint keys'


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU (gloo) fallback')
def test_dist_test_collects_all_clips(dist_run, tiny_data, tmp_path):
    checkpoint = dist_run[0] / 'epoch_1.pth'
    dump = tmp_path / 'predictions.pkl'
    run_tool([REPO_ROOT / 'tools' / 'dist_test.sh', CONFIG, checkpoint, WORLD_SIZE,
              '--work-dir', tmp_path / 'test', '--dump', dump], _env(tiny_data), cwd=tmp_path)
    with open(dump, 'rb') as file:
        predictions = pickle.load(file)
    # Each rank tests part of the clips; rank 0 gathers them all, each once.
    assert len(predictions) == NUM_VAL_CLIPS
    assert sorted(int(p['gt_label']) for p in predictions) == list(range(NUM_VAL_CLIPS))


# ------------------------------------------------- launcher scripts, argument passing
def _fake_launcher(bin_dir, name: str) -> None:
    """An executable ``name`` that prints its arguments one a line, then the env it saw."""
    script = bin_dir / name
    script.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n'
                      'echo "MASTER_PORT_ENV=${MASTER_PORT:-}"\n'
                      'echo "PYTHONPATH_ENV=${PYTHONPATH:-}"\n')
    script.chmod(0o755)


def _run_with_fake(tmp_path, name: str, cmd: list, extra_env: dict) -> list:
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    _fake_launcher(bin_dir, name)
    env = subprocess_env()
    env['PATH'] = f'{bin_dir}:{env["PATH"]}'
    env.update(extra_env)
    return run_tool(cmd, env, cwd=tmp_path).stdout.splitlines()


def test_dist_train_sh_passes_node_settings_and_arguments(tmp_path):
    args = _run_with_fake(
        tmp_path, 'torchrun',
        [REPO_ROOT / 'tools' / 'dist_train.sh', 'my_config.py', '4', '--seed', '3', '--resume'],
        dict(NNODES='2', NODE_RANK='1', PORT='29777', MASTER_ADDR='10.1.2.3'))
    for expected in ('--nnodes=2', '--node_rank=1', '--master_port=29777',
                     '--master_addr=10.1.2.3', '--nproc_per_node=4'):
        assert expected in args
    script = args.index(str(REPO_ROOT / 'tools' / 'train.py'))
    assert args[script + 1:script + 7] == ['my_config.py', '--launcher', 'pytorch', '--seed', '3',
                                           '--resume']
    assert any(line.startswith('PYTHONPATH_ENV=') and str(REPO_ROOT) in line for line in args)


def test_dist_test_sh_passes_checkpoint_and_arguments(tmp_path):
    args = _run_with_fake(
        tmp_path, 'torchrun',
        [REPO_ROOT / 'tools' / 'dist_test.sh', 'cfg.py', 'ckpt.pth', '2', '--dump', 'out.pkl'], {})
    assert '--nnodes=1' in args and '--master_port=29500' in args
    script = args.index(str(REPO_ROOT / 'tools' / 'test.py'))
    assert args[script + 1:script + 7] == ['cfg.py', 'ckpt.pth', '--launcher', 'pytorch',
                                           '--dump', 'out.pkl']


def test_slurm_train_sh_builds_the_srun_command(tmp_path):
    args = _run_with_fake(
        tmp_path, 'srun',
        [REPO_ROOT / 'tools' / 'slurm_train.sh', 'gpu', 'job1', 'cfg.py', 'work/dir', '--amp'],
        dict(GPUS='16', GPUS_PER_NODE='8', CPUS_PER_TASK='4', SRUN_ARGS='--time=1:00 --qos=hi'))
    for expected in ('-p', 'gpu', '--job-name=job1', '--gres=gpu:8', '--ntasks=16',
                     '--ntasks-per-node=8', '--cpus-per-task=4', '--time=1:00', '--qos=hi'):
        assert expected in args
    script = args.index(str(REPO_ROOT / 'tools' / 'train.py'))
    assert args[script + 1:script + 7] == ['cfg.py', '--launcher', 'slurm', '--work-dir',
                                           'work/dir', '--amp']
    assert any(line.startswith('MASTER_PORT_ENV=') and line != 'MASTER_PORT_ENV='
               for line in args)


def test_slurm_test_sh_builds_the_srun_command(tmp_path):
    args = _run_with_fake(
        tmp_path, 'srun',
        [REPO_ROOT / 'tools' / 'slurm_test.sh', 'gpu', 'job2', 'cfg.py', 'ckpt.pth', '--dump',
         'r.pkl'], {})
    assert '--ntasks=8' in args and '--gres=gpu:8' in args and '--cpus-per-task=5' in args
    script = args.index(str(REPO_ROOT / 'tools' / 'test.py'))
    assert args[script + 1:script + 7] == ['cfg.py', 'ckpt.pth', '--launcher', 'slurm', '--dump',
                                           'r.pkl']


@pytest.mark.parametrize('script, min_args', [('dist_train.sh', 2), ('dist_test.sh', 3),
                                              ('slurm_train.sh', 3), ('slurm_test.sh', 4)])
def test_launchers_are_executable_and_explain_missing_arguments(script, min_args):
    path = REPO_ROOT / 'tools' / script
    assert os.access(path, os.X_OK), f'{path} must be executable'
    proc = subprocess.run([str(path)] + ['x'] * (min_args - 1), capture_output=True, text=True,
                          env=subprocess_env(), timeout=30)
    assert proc.returncode == 2
    assert 'usage:' in proc.stderr


# ------------------------------------------------------- setup_cpu_distributed alone
@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU (gloo) fallback')
def test_setup_cpu_distributed_single_process(monkeypatch):
    tool = runner
    cfg = Config(dict(launcher='none', env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    assert tool.setup_cpu_distributed(cfg) is False
    assert cfg.env_cfg.dist_cfg.backend == 'nccl' and 'model_wrapper_cfg' not in cfg

    assert not torch_dist.is_initialized()
    for key, value in dict(RANK='0', WORLD_SIZE='1', LOCAL_RANK='0', MASTER_ADDR='127.0.0.1',
                           MASTER_PORT=str(_free_port())).items():
        monkeypatch.setenv(key, value)
    cfg = Config(dict(launcher='pytorch',
                      env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=60)),
                      model_wrapper_cfg=dict(type='MMDistributedDataParallel',
                                             find_unused_parameters=True)))
    try:
        assert tool.setup_cpu_distributed(cfg) is True
        assert torch_dist.is_initialized()
        assert torch_dist.get_backend() == 'gloo'
        assert torch_dist.get_world_size() == 1
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    # The config's own wrapper settings stay; only device_ids is cleared for CPU modules.
    assert cfg.model_wrapper_cfg.find_unused_parameters is True
    assert cfg.model_wrapper_cfg.device_ids is None
