"""End to end on the CPU: train, resume and test the tiny MSNet through the command-line tools.

The chain (each step a subprocess, as a user would type it):
1. ``mim train mmaction tiny_msnet_video.py --gpus 0`` for 1 epoch (mp4 + decord);
2. ``tools/train.py tiny_msnet_video.py --resume`` on to epoch 2;
3. ``mim test mmaction tiny_msnet_rawframes.py --checkpoint epoch_2.pth --gpus 0``
   (JPEG frame folders);
4. ``tools/test.py tiny_msnet_video.py epoch_2.pth --dump`` (two clips x three crops).
Steps 2-4 load MMEngine checkpoints with torch >= 2.6, which needs ms_plugin.compat.
"""
import pickle
import subprocess
from pathlib import Path

import pytest
import torch
from ms_plugin.engine.runner import merge_train_args
from ms_plugin.utils.errors import InputError

from conftest import (REPO_ROOT, TEST_CONFIGS, VENV_BIN, latest_run_dir, load_tool,
                      read_json_lines, run_tool, subprocess_env)
from mmengine.config import Config

VIDEO_CFG = TEST_CONFIGS / 'tiny_msnet_video.py'
RAWFRAME_CFG = TEST_CONFIGS / 'tiny_msnet_rawframes.py'
NUM_TRAIN_CLIPS = 6  # conftest.write_tiny_dataset: 3 classes x 2 clips
NUM_VAL_CLIPS = 3
BATCH_SIZE = 2
ITERS_PER_EPOCH = NUM_TRAIN_CLIPS // BATCH_SIZE


def _train_records(run_dir: Path) -> list:
    return [r for r in read_json_lines(run_dir / 'vis_data' / 'scalars.json') if 'loss' in r]


def _val_records(run_dir: Path) -> list:
    return [r for r in read_json_lines(run_dir / 'vis_data' / 'scalars.json')
            if 'acc/top1' in r]


@pytest.fixture(scope='module')
def work_dirs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp('e2e')


@pytest.fixture(scope='module')
def first_run(work_dirs, tiny_data):
    """One epoch of ``mim train`` on the video layout (step 1)."""
    work_dir = work_dirs / 'train'
    proc = run_tool([VENV_BIN / 'mim', 'train', 'mmaction', VIDEO_CFG, '--gpus', '0',
                     '--work-dir', work_dir, '--cfg-options', 'train_cfg.max_epochs=1'],
                    subprocess_env(tiny_data), cwd=work_dirs)
    return work_dir, latest_run_dir(work_dir), proc.stdout


@pytest.fixture(scope='module')
def resumed_run(first_run, tiny_data):
    """``tools/train.py --resume`` continuing the first run to epoch 2 (step 2)."""
    work_dir = first_run[0]
    proc = run_tool([VENV_BIN / 'python', REPO_ROOT / 'tools' / 'train.py', VIDEO_CFG,
                     '--work-dir', work_dir, '--resume'],
                    subprocess_env(tiny_data), cwd=work_dir.parent)
    return work_dir, latest_run_dir(work_dir), proc.stdout


def test_mim_train_writes_checkpoint_and_validation_metrics(first_run):
    work_dir, run_dir, _ = first_run
    assert (work_dir / 'epoch_1.pth').is_file()
    assert not (work_dir / 'epoch_2.pth').exists()
    state = torch.load(work_dir / 'epoch_1.pth', map_location='cpu', weights_only=False)
    assert any(key.startswith('backbone.ms_layer') for key in state['state_dict']), \
        'the tiny config must train an MSNet (MotionSqueeze parameters in the checkpoint)'
    assert Path((work_dir / 'last_checkpoint').read_text().strip()) == work_dir / 'epoch_1.pth'
    train = _train_records(run_dir)
    assert [r['iter'] for r in train] == list(range(1, ITERS_PER_EPOCH + 1))
    assert {r['epoch'] for r in train} == {1}
    val = _val_records(run_dir)
    assert len(val) == 1
    # One validation clip per class: a whole number of the 3 clips is right, and the mean
    # of the per-class accuracies equals the overall accuracy.
    correct = val[0]['acc/top1'] * NUM_VAL_CLIPS
    assert correct == pytest.approx(round(correct), abs=1e-3)
    assert val[0]['acc/mean1'] == pytest.approx(val[0]['acc/top1'], abs=1e-3)


def test_resume_continues_from_the_saved_epoch(first_run, resumed_run):
    work_dir, run_dir, log = resumed_run
    assert run_dir != first_run[1], 'the resumed run must log into a new run folder'
    assert f'resumed epoch: 1, iter: {ITERS_PER_EPOCH}' in log
    assert Path((work_dir / 'last_checkpoint').read_text().strip()) == work_dir / 'epoch_2.pth'
    train = _train_records(run_dir)
    # Only epoch 2 is trained, and the iteration count goes on from the checkpoint.
    assert {r['epoch'] for r in train} == {2}
    assert train[0]['iter'] == ITERS_PER_EPOCH + 1
    # MultiStepLR (milestone 1, gamma 0.1) state came back from the checkpoint.
    first_lr = _train_records(first_run[1])[0]['lr']
    assert train[0]['lr'] == pytest.approx(first_lr * 0.1)
    assert len(_val_records(run_dir)) == 1


def test_mim_test_on_rawframes(resumed_run, tiny_data, tmp_path):
    checkpoint = resumed_run[0] / 'epoch_2.pth'
    work_dir = tmp_path / 'test_rawframes'
    dump = tmp_path / 'rawframe_predictions.pkl'
    run_tool([VENV_BIN / 'mim', 'test', 'mmaction', RAWFRAME_CFG, '--checkpoint', checkpoint,
              '--gpus', '0', '--work-dir', work_dir, '--dump', dump],
             subprocess_env(tiny_data), cwd=tmp_path)
    run_dir = latest_run_dir(work_dir)
    metrics = read_json_lines(run_dir / f'{run_dir.name}.json')[-1]
    with open(dump, 'rb') as file:
        predictions = pickle.load(file)
    # The metric is that of the predictions, over every test clip, each once.
    assert sorted(int(p['gt_label']) for p in predictions) == list(range(NUM_VAL_CLIPS))
    hits = [int(p['pred_score'].argmax()) == int(p['gt_label']) for p in predictions]
    assert metrics['acc/top1'] == pytest.approx(sum(hits) / NUM_VAL_CLIPS, abs=1e-4)
    assert metrics['acc/mean1'] == pytest.approx(metrics['acc/top1'], abs=1e-4)  # 1 clip/class


def test_tools_test_loads_checkpoint_and_dumps_predictions(resumed_run, tiny_data, tmp_path):
    """The path that raised UnpicklingError under torch >= 2.6 before ms_plugin.compat."""
    checkpoint = resumed_run[0] / 'epoch_2.pth'
    dump = tmp_path / 'predictions.pkl'
    proc = run_tool([VENV_BIN / 'python', REPO_ROOT / 'tools' / 'test.py', VIDEO_CFG,
                     checkpoint, '--work-dir', tmp_path / 'test_video', '--dump', dump],
                    subprocess_env(tiny_data), cwd=tmp_path)
    assert 'UnpicklingError' not in proc.stdout
    assert f'Load checkpoint from {checkpoint}' in proc.stdout
    with open(dump, 'rb') as file:
        predictions = pickle.load(file)
    assert len(predictions) == NUM_VAL_CLIPS
    for prediction in predictions:
        scores = prediction['pred_score']
        # average_clips='prob': the 2 clips x 3 crops are averaged into one distribution.
        assert tuple(scores.shape) == (3, )
        assert float(scores.sum()) == pytest.approx(1.0, abs=1e-4)


def test_tools_test_with_another_models_checkpoint_lists_the_keys(resumed_run, tiny_data,
                                                                  tmp_path):
    """Testing a checkpoint that does not fit the config's model stops before any metric."""
    checkpoint = torch.load(resumed_run[0] / 'epoch_2.pth', map_location='cpu',
                            weights_only=False)
    state = checkpoint['state_dict']
    dropped = sorted(key for key in state if key.startswith('backbone.ms_layer'))[0]
    state.pop(dropped)
    state['cls_head.extra.weight'] = torch.zeros(2)
    other = tmp_path / 'other_model.pth'
    torch.save(checkpoint, other)
    proc = subprocess.run(
        [str(VENV_BIN / 'python'), str(REPO_ROOT / 'tools' / 'test.py'), str(VIDEO_CFG),
         str(other), '--work-dir', str(tmp_path / 'test')], env=subprocess_env(tiny_data),
        cwd=str(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert f'checkpoint {other} does not match the model of the config' in proc.stderr
    assert f'missing keys (1): {dropped}' in proc.stderr
    assert 'unexpected keys (1): cls_head.extra.weight' in proc.stderr
    assert 'acc/top1' not in proc.stdout and 'Traceback' not in proc.stderr


def test_train_resume_from_a_truncated_checkpoint_is_one_clear_error(resumed_run, tiny_data,
                                                                     tmp_path):
    data = (resumed_run[0] / 'epoch_2.pth').read_bytes()
    damaged = tmp_path / 'epoch_2.pth'
    damaged.write_bytes(data[:len(data) // 3])
    proc = subprocess.run(
        [str(VENV_BIN / 'python'), str(REPO_ROOT / 'tools' / 'train.py'), str(VIDEO_CFG),
         '--work-dir', str(tmp_path / 'work'), '--resume', str(damaged)],
        env=subprocess_env(tiny_data), cwd=str(tmp_path), capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(
        f'train.py: error: cannot resume: checkpoint {damaged}: truncated or corrupt')
    assert 'Traceback' not in proc.stderr


# ------------------------------------------------ tools/train.py and test.py arguments
@pytest.fixture(scope='module')
def train_tool():
    return load_tool('train')


def _merged(tool, argv: list) -> Config:
    return tool.merged_config(tool.parse_args(argv))


def test_train_args_resume_auto_and_path(train_tool, tiny_data, monkeypatch):
    monkeypatch.setenv('MS_TINY_DATA', str(tiny_data))
    cfg = _merged(train_tool, [str(VIDEO_CFG), '--resume'])
    assert cfg.resume is True and cfg.load_from is None
    cfg = _merged(train_tool, [str(VIDEO_CFG), '--resume', 'x/epoch_3.pth'])
    assert cfg.resume is True and cfg.load_from == 'x/epoch_3.pth'
    cfg = _merged(train_tool, [str(VIDEO_CFG)])
    assert not cfg.resume
    assert cfg.work_dir == str(Path('work_dirs') / 'tiny_msnet_video')


def test_train_args_override_config(train_tool, tiny_data, monkeypatch):
    monkeypatch.setenv('MS_TINY_DATA', str(tiny_data))
    cfg = _merged(train_tool, [
        str(VIDEO_CFG), '--work-dir', 'w', '--no-validate', '--amp', '--auto-scale-lr',
        '--seed', '7', '--deterministic', '--cfg-options', 'train_cfg.max_epochs=5'])
    assert cfg.work_dir == 'w'
    assert cfg.val_cfg is None and cfg.val_dataloader is None and cfg.val_evaluator is None
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert cfg.auto_scale_lr.enable is True
    # The config sets randomness.seed=0: the command line wins.
    assert cfg.randomness.seed == 7 and cfg.randomness.deterministic is True
    assert cfg.train_cfg.max_epochs == 5
    assert cfg.launcher == 'none'


def test_train_args_reject_amp_with_a_custom_wrapper(train_tool, tiny_data, monkeypatch):
    monkeypatch.setenv('MS_TINY_DATA', str(tiny_data))
    cfg = Config.fromfile(str(VIDEO_CFG))
    cfg.optim_wrapper.type = 'MyWrapper'
    with pytest.raises(InputError, match='MyWrapper'):
        merge_train_args(cfg, amp=True)


def test_test_args_dump_checkpoint_and_cfg_options(tiny_data, monkeypatch):
    monkeypatch.setenv('MS_TINY_DATA', str(tiny_data))
    tool = load_tool('test')
    argv = [str(VIDEO_CFG), 'ck.pth', '--dump', 'p.pkl', '--cfg-options',
            'test_dataloader.batch_size=3']
    cfg = _merged(tool, argv)
    assert cfg.load_from == 'ck.pth'
    assert cfg.test_dataloader.batch_size == 3
    assert [e['type'] for e in cfg.test_evaluator] == ['AccMetric', 'DumpResults']
    assert cfg.test_evaluator[1]['out_file_path'] == 'p.pkl'
    with pytest.raises(InputError, match='pkl'):
        _merged(tool, [str(VIDEO_CFG), 'ck.pth', '--dump', 'p.json'])
