"""Faults injected one at a time: broken videos, damaged checkpoints, random streams.

Broken videos (missing, empty, truncated, not a video) go through a real Runner on the
tiny MSNet: skipped and counted in training, stopping the run or left out and reported
in testing. Damaged checkpoints go through the one reader (ms_plugin.utils.checkpoint)
and the resume and load checks of tools/train.py. (The SIGKILL test is
tests/test_resume_after_kill.py.)
"""
import logging
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from ms_plugin.engine import runner

from conftest import TEST_CONFIGS, write_clip_frames, write_frame_folder
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.logging import MessageHub
from mmengine.runner import Runner

import ms_plugin  # noqa: F401
from ms_plugin.datasets.transforms import UnreadableVideoGuard
from ms_plugin.engine import RNGStateHook, UnreadableVideoHook
from ms_plugin.engine.hooks import unreadable_video_hook
from ms_plugin.engine.hooks.rng_state_hook import (CHECKPOINT_KEY, capture_rng_state,
                                                   restore_rng_state)
from ms_plugin.utils.errors import InputError
from ms_plugin.utils.checkpoint import (newest_readable_checkpoint,
                                        read_checkpoint)

VIDEO_CFG = TEST_CONFIGS / 'tiny_msnet_video.py'


def _draws() -> tuple:
    return random.random(), float(np.random.rand()), float(torch.rand(1))


# ------------------------------------------------------------- the configs here
CONFIG_DIR = TEST_CONFIGS.parents[1] / 'configs'
# The configs built on this repository's bases. Those that swap the MS backbone
# into an MMAction2 config (`_base_ = ['mmaction::...']`: the example and the
# MobileNetV2/SlowOnly ones) keep MMAction2's runtime and pipelines unchanged.
OWN_CONFIGS = sorted(path for path in CONFIG_DIR.rglob('*.py')
                     if '_base_' not in path.parts and 'examples' not in path.parts
                     and not path.name.startswith('_')
                     and "'mmaction::" not in path.read_text())


def test_the_stock_config_swaps_are_the_only_configs_left_out():
    swaps = sorted(path.name for path in CONFIG_DIR.glob('*.py')
                   if "'mmaction::" in path.read_text())
    assert swaps == ['msnet_mobilenetv2_sthv2.py', 'msnet_slowonly_r50_k400.py']
    assert len(OWN_CONFIGS) >= 10


READERS = ('DecordInit', 'DecordDecode', 'RawFrameDecode')


@pytest.mark.parametrize('path', OWN_CONFIGS, ids=lambda p: str(p.relative_to(CONFIG_DIR)))
def test_configs_enable_the_fault_tolerance_hooks_and_guards(path):
    cfg = Config.fromfile(str(path))
    hooks = {hook['type']: hook for hook in cfg.custom_hooks}
    assert 'RNGStateHook' in hooks and 'LabelCheckHook' in hooks
    assert hooks['UnreadableVideoHook']['train_on_error'] == 'skip'
    assert hooks['UnreadableVideoHook']['test_on_error'] == 'raise'
    for split in ('train', 'val', 'test'):
        steps = cfg[f'{split}_dataloader'].dataset.pipeline
        readers = [step for step in steps if step['type'] in READERS]
        guarded = [step for step in steps if step['type'] == 'UnreadableVideoGuard']
        assert not readers, f'{split}: {readers} outside an UnreadableVideoGuard'
        assert guarded and all(step['transforms'][0]['type'] in READERS for step in guarded)


# ------------------------------------------------------------------ random streams
def test_rng_state_round_trip_through_a_safe_checkpoint(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    np.random.randn()  # leaves a cached Gaussian in numpy's state
    hook = RNGStateHook()

    class FakeRunner:
        iter = 12

    hook.after_train_epoch(FakeRunner())
    expected = _draws()
    checkpoint = dict(meta=dict(iter=12))
    hook.before_save_checkpoint(FakeRunner(), checkpoint)
    torch.save(checkpoint, tmp_path / 'ckpt.pth')
    _draws()
    saved = read_checkpoint(str(tmp_path / 'ckpt.pth'))[CHECKPOINT_KEY]  # weights_only=True
    assert saved['at_epoch_end'] is True and len(saved['ranks']) == 1
    restore_rng_state(saved['ranks'][0])
    assert _draws() == expected


def test_validation_draws_nothing_from_the_training_streams():
    hook = RNGStateHook()
    torch.manual_seed(0), np.random.seed(0), random.seed(0)
    state = capture_rng_state()
    expected = _draws()
    restore_rng_state(state)
    hook.before_val(None)
    _draws(), _draws()  # what validation would draw (DataLoader seeds, ...)
    hook.after_val(None)
    assert _draws() == expected


# ------------------------------------------------------------------- broken videos
def _break_videos(folder: Path) -> dict:
    """Four unreadable videos next to the good ones."""
    good = (folder / 'clip_0.mp4').read_bytes()
    broken = dict(missing=folder / 'missing.mp4', empty=folder / 'empty.mp4',
                  truncated=folder / 'truncated.mp4', not_a_video=folder / 'notes.mp4')
    broken['empty'].write_bytes(b'')
    broken['truncated'].write_bytes(good[:len(good) // 2])
    broken['not_a_video'].write_text('this is not a video\n' * 50)
    return broken


@pytest.fixture(scope='module')
def video_folder(tiny_data, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp('videos')
    for path in (tiny_data / 'videos').iterdir():
        (folder / path.name).symlink_to(path)
    return folder


@pytest.mark.parametrize('kind, why', [('missing', 'no such file'), ('empty', 'the file is empty'),
                                       ('truncated', 'cannot be opened'),
                                       ('not_a_video', 'cannot be opened')])
def test_guard_names_the_file_and_skips_or_raises(kind, why, video_folder):
    path = str(_break_videos(video_folder)[kind])
    results = dict(filename=path, start_index=0, modality='RGB')
    with pytest.raises(InputError, match=f'cannot read {path}: {why}'):  # the probe's reason
        UnreadableVideoGuard([dict(type='DecordInit')])(dict(results))
    guard = UnreadableVideoGuard([dict(type='DecordInit')], on_error='skip')
    assert guard(dict(results)) is None
    assert guard.skipped() == [path]
    good = dict(results, filename=str(video_folder / 'clip_0.mp4'))
    assert guard(good)['total_frames'] == 8 and guard.skipped() == [path]


def _runner(tmp_path, monkeypatch, tiny_data, video_folder, train: list, test: list,
            **hook_options) -> Runner:
    monkeypatch.setenv('MS_TINY_DATA', str(tiny_data))
    cfg = Config.fromfile(str(VIDEO_CFG))
    for split, names in (('train', train), ('test', test)):
        ann = tmp_path / f'{split}.txt'
        ann.write_text(''.join(f'{video_folder / name} {i % 3}\n' for i, name in enumerate(names)))
        dataset = cfg[f'{split}_dataloader'].dataset
        dataset.ann_file, dataset.data_prefix = str(ann), dict(video='')
    cfg.train_cfg.max_epochs = 1
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.custom_hooks[1].update(hook_options)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'faults_{tmp_path.name}'
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=100)  # none written
    return Runner.from_cfg(cfg)


GOOD = [f'clip_{i}.mp4' for i in range(6)]  # conftest.write_tiny_dataset


def test_training_skips_unreadable_videos_and_counts_them(tmp_path, monkeypatch, tiny_data,
                                                          video_folder):
    broken = _break_videos(video_folder)
    names = [broken[k].name for k in ('missing', 'truncated')]
    runner = _runner(tmp_path, monkeypatch, tiny_data, video_folder, GOOD[:4] + names, GOOD[:1])
    runner.train()
    log = Path(runner.log_dir, f'{runner.timestamp}.log').read_text()
    for name in names:
        assert f'skipping an unreadable video: cannot read {video_folder / name}' in log
    # each broken file is drawn once by the sampler, and maybe again by a refetch:
    # the count is of distinct videos, the times only when more
    assert runner.message_hub.get_scalar('train/skipped_videos').current() == 2
    assert log.count('skipping an unreadable video') >= 2
    summary = next(line for line in log.splitlines() if 'unreadable video(s) skipped' in line)
    assert 'Epoch 1: 2 unreadable video(s) skipped' in summary
    assert all(str(video_folder / name) in summary for name in names)
    assert runner.iter == (4 + 2) // 2  # every batch was trained, with other samples


def test_the_skip_summary_counts_distinct_videos(video_folder, monkeypatch):
    broken = _break_videos(video_folder)
    guards = [UnreadableVideoGuard([dict(type='DecordInit')], on_error='skip')
              for _ in range(2)]  # e.g. the DecordInit and DecordDecode guards
    for guard, kind in zip(guards * 2, ('missing', 'empty', 'missing', 'missing')):
        assert guard(dict(filename=str(broken[kind]), start_index=0, modality='RGB')) is None

    class Dataset:
        pipeline = Compose(guards)

    class FakeRunner:
        epoch = 0
        message_hub = MessageHub.get_instance('test_the_skip_summary_counts_distinct_videos')
        train_loop = type('Loop', (), dict(dataloader=type('Loader', (), dict(dataset=Dataset))))

    messages = []
    monkeypatch.setattr(unreadable_video_hook, 'print_log',
                        lambda message, **kwargs: messages.append(message))
    UnreadableVideoHook().after_train_epoch(FakeRunner)
    assert FakeRunner.message_hub.get_scalar('train/skipped_videos').current() == 2
    assert messages == [f'Epoch 1: 2 unreadable video(s) skipped (4 times): '
                        f'{broken["missing"]}, {broken["empty"]}']


def test_a_corrupt_jpeg_is_named(tmp_path):
    folder = tmp_path / 'clip'
    write_frame_folder(folder, write_clip_frames(0, num_frames=4))
    (folder / '00003.jpg').write_bytes(b'\xff\xd8 not a JPEG')
    results = dict(frame_dir=str(folder), filename_tmpl='{:05}.jpg', modality='RGB',
                   frame_inds=np.arange(1, 5), total_frames=4, start_index=1)
    with pytest.raises(InputError) as info:
        UnreadableVideoGuard([dict(type='RawFrameDecode')])(results)
    message = str(info.value)
    assert message.startswith(f'cannot read {folder}: frame 00003.jpg: not a decodable image; ')
    assert '\n' not in message


def test_training_stops_at_an_unreadable_video_with_the_option(tmp_path, monkeypatch,
                                                               tiny_data, video_folder):
    broken = _break_videos(video_folder)['empty']
    runner = _runner(tmp_path, monkeypatch, tiny_data, video_folder, GOOD[:1] + [broken.name],
                     GOOD[:1], train_on_error='raise')
    with pytest.raises(InputError, match=f'cannot read {broken}'):
        runner.train()


def test_testing_stops_at_an_unreadable_video_by_default(tmp_path, monkeypatch, tiny_data,
                                                         video_folder):
    broken = _break_videos(video_folder)['not_a_video']
    runner = _runner(tmp_path, monkeypatch, tiny_data, video_folder, GOOD,
                     GOOD[:2] + [broken.name])
    with pytest.raises(InputError, match=f'cannot read {broken}'):
        runner.test()


def test_testing_leaves_out_unreadable_videos_and_reports_them(tmp_path, monkeypatch,
                                                               tiny_data, video_folder):
    broken = _break_videos(video_folder)
    test = GOOD[:3] + [broken['truncated'].name, broken['missing'].name]
    runner = _runner(tmp_path, monkeypatch, tiny_data, video_folder, GOOD, test,
                     test_on_error='leave_out')
    metrics = runner.test()
    assert metrics['left_out_videos'] == 2
    assert len(runner.test_loop.dataloader.dataset) == 3
    assert len(runner.test_loop.dataloader) == 3  # batch size 1: the sampler shrank too
    log = Path(runner.log_dir, f'{runner.timestamp}.log').read_text()
    assert 'left_out_videos: 2' in log  # next to the metric
    assert str(broken['truncated']) in log and str(broken['missing']) in log


# ------------------------------------------------------------------ bad checkpoints
def _good_checkpoint(path: Path) -> Path:
    torch.save(dict(meta=dict(epoch=1), state_dict=dict(w=torch.ones(3))), path)
    return path


@pytest.mark.parametrize('damage, words', [
    ('missing', 'no such file'), ('empty', 'empty'), ('truncated', 'truncated or corrupt'),
    ('garbage', 'unreadable'), ('list', 'holds a list')])
def test_read_checkpoint_gives_one_clear_error(damage, words, tmp_path):
    path = tmp_path / f'{damage}.pth'
    if damage == 'empty':
        path.write_bytes(b'')
    elif damage == 'truncated':
        data = _good_checkpoint(path).read_bytes()
        path.write_bytes(data[:len(data) * 2 // 3])
    elif damage == 'garbage':
        path.write_bytes(b'this is not a checkpoint\n' * 20)
    elif damage == 'list':
        torch.save([torch.zeros(1)], path)
    with pytest.raises(InputError, match=words) as info:
        read_checkpoint(str(path))
    assert str(info.value).startswith(f'checkpoint {path}: ')


def _work_dir_with_damaged_newest(tmp_path: Path) -> Path:
    work = tmp_path / 'work'
    work.mkdir()
    _good_checkpoint(work / 'epoch_1.pth')
    (work / 'epoch_2.pth').write_bytes(b'PK\x03\x04 cut short')
    os.utime(work / 'epoch_1.pth', (1, 1))  # older
    (work / 'last_checkpoint').write_text(str(work / 'epoch_2.pth'))
    return work


def test_newest_readable_checkpoint_skips_the_damaged_newest(tmp_path):
    work = _work_dir_with_damaged_newest(tmp_path)
    path, failures = newest_readable_checkpoint(str(work))
    assert path == str(work / 'epoch_1.pth')
    assert [str(f).split(': ')[0] for f in failures] == [f'checkpoint {work / "epoch_2.pth"}']
    assert newest_readable_checkpoint(str(tmp_path)) == (None, [])


def test_train_resume_checks(tmp_path, caplog):
    tool = runner
    work = _work_dir_with_damaged_newest(tmp_path)
    # --resume PATH with a damaged file: one error naming it
    cfg = Config(dict(resume=True, load_from=str(work / 'epoch_2.pth'), work_dir=str(work)))
    with pytest.raises(InputError, match=f'cannot resume: checkpoint {work / "epoch_2.pth"}: '
                                         'truncated or corrupt'):
        tool.choose_resume_checkpoint(cfg)
    # --resume alone: falls back to the newest readable one
    cfg = Config(dict(resume=True, load_from=None, work_dir=str(work)))
    tool.choose_resume_checkpoint(cfg)
    assert cfg.load_from == str(work / 'epoch_1.pth')
    # nothing readable left: stop, naming every file
    (work / 'epoch_1.pth').write_bytes(b'')
    cfg = Config(dict(resume=True, load_from=None, work_dir=str(work)))
    with pytest.raises(InputError, match=r'epoch_2\.pth[\s\S]*epoch_1\.pth: the file is empty'):
        tool.choose_resume_checkpoint(cfg)


def test_load_from_another_model_lists_missing_and_unexpected_keys(tmp_path):
    tool = runner
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 4))
    state = dict(model.state_dict())
    state.pop('1.bias')
    state['head.weight'] = torch.zeros(1)
    state['0.weight'] = torch.zeros(5, 2)
    torch.save(dict(state_dict=state), tmp_path / 'other.pth')

    class FakeRunner:
        def __init__(self):
            self.model, self.logger = model, logging.getLogger('fake_runner')

    path = str(tmp_path / 'other.pth')
    with pytest.raises(InputError) as info:
        tool._check_checkpoint_fits(FakeRunner(), path, strict=True)  # tools/test.py
    message = str(info.value)
    assert f'checkpoint {path} does not match' in message
    assert 'missing keys (1): 1.bias' in message
    assert 'unexpected keys (1): head.weight' in message
    assert '0.weight (5, 2) vs (3, 2)' in message
