"""The substitution table that turns the documented GPU commands into CPU test runs.

The docs' commands run in the tests exactly as written, except for these
substitutions, applied in this order (and nothing else):

* GPU counts become CPU processes: ``tools/dist_train.sh CONFIG 8`` and
  ``tools/dist_test.sh CONFIG CKPT 8`` run 2 processes (gloo); ``mim ... --gpus
  8`` runs with ``--gpus 0`` (on the CPU, one process).
* Data paths: the commands run in a folder that holds the miniature datasets
  of :mod:`mmaction_data` in ``data/`` (and ``configs/``, ``tools/`` links),
  so ``data/...`` and ``configs/...`` are used as written.
* Epochs become one epoch of the miniature data (two or three iterations of
  one clip): checkpoints named ``epoch_40.pth`` or ``epoch_75.pth`` are
  ``epoch_1.pth``, and training and testing get the CPU-size options below
  (batch size 1, no loader workers, one epoch, a checkpoint every epoch, one
  test clip), appended as ``--cfg-options``.
"""
import re
from pathlib import Path
from typing import List

from mmengine.config import Config

TRAIN_OPTIONS = [
    'train_dataloader.batch_size=1', 'train_dataloader.num_workers=0',
    'val_dataloader.batch_size=1', 'val_dataloader.num_workers=0', 'train_cfg.max_epochs=1',
    'default_hooks.checkpoint.interval=1'
]
TEST_LOADER_OPTIONS = ['test_dataloader.batch_size=1', 'test_dataloader.num_workers=0']
GPU_COUNT = re.compile(r'(tools/dist_(?:train|test)\.sh(?: \S+){1,2}) 8\b')
MIM_GPUS = re.compile(r'--gpus \d+')
LAST_EPOCH = re.compile(r'epoch_(40|75)\.pth')


def one_clip_options(config: str) -> List[str]:
    """``--cfg-options`` that test one clip of the config's test pipeline.

    TSN-style sampling (``SampleFrames`` with ``clip_len=1``) takes
    ``num_clips`` segments per clip: only ``twice_sample`` is turned off.
    Dense sampling takes its frames at ``num_sample_positions`` places: one is
    kept. Clip sampling (SlowOnly) takes ``num_clips`` windows: one is kept.
    """
    pipeline = Config.fromfile(config).test_dataloader.dataset.pipeline
    for index, step in enumerate(pipeline):
        key = f'test_dataloader.dataset.pipeline.{index}'
        if step['type'] == 'DenseSampleFrames':  # num_clips frames at each of the positions
            return [f'{key}.num_sample_positions=1']
        if step['type'] == 'SampleFrames' and step.get('clip_len', 1) == 1:
            return [f'{key}.twice_sample=False']
        if step['type'] == 'SampleFrames':
            return [f'{key}.num_clips=1']
    return []


def cpu_test_options(config: str) -> List[str]:
    """The CPU-size ``--cfg-options`` of a test run of ``config``."""
    return TEST_LOADER_OPTIONS + one_clip_options(config)


def substitute(command: str, root: Path) -> str:
    """A documented command as the tests run it in ``root`` (see the module docstring)."""
    command = GPU_COUNT.sub(r'\1 2', command)
    if command.startswith('mim '):
        command = MIM_GPUS.sub('--gpus 0', command)
    command = LAST_EPOCH.sub('epoch_1.pth', command)
    words = command.split()
    # The config: the first .py argument after the tool (or after `mim train/test mmaction`).
    configs = [word for word in words[1:] if word.endswith('.py') and not word.startswith(
        ('tools/', '$'))]
    training = re.search(r'tools/(dist_|slurm_)?train\.(py|sh)|mim train', command)
    testing = re.search(r'tools/(dist_|slurm_)?test\.(py|sh)|mim test', command)
    if configs and (training or testing):
        options = TRAIN_OPTIONS if training else cpu_test_options(str(root / configs[0]))
        command += ' --cfg-options ' + ' '.join(options)
    return command
