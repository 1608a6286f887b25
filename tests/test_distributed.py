"""Distributed training and testing on the CPU: two processes through torchrun and gloo.

``tools/dist_train.sh CONFIG 2`` then ``tools/dist_test.sh CONFIG CKPT 2`` on the
tiny MSNet (JPEG frame folders). Without CUDA, tools/train.py and tools/test.py
must pick the gloo backend and wrap the model in DDP without device_ids;
MMEngine's own start would call torch.cuda.set_device and fail.
"""
import pickle
import socket

import pytest
import torch
from conftest import (REPO_ROOT, TEST_CONFIGS, latest_run_dir, read_json_lines, run_tool,
                      subprocess_env)

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
