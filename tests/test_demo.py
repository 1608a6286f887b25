"""``tools/demo.py`` (``make demo``): end to end at a tiny scale, and its checks of bad input.

The end-to-end test runs the demo as ``make demo`` does (a subprocess) on a
few 96 px videos for one epoch, with TSN and MSNet: every stage, the table,
the logs, and the figure of the trained MSNet with its check against the
object's true position. The other tests call the demo's functions directly
(``tools/demo/``).
"""
import errno
import json
import os
import re
import subprocess
import sys
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT, load_tool, subprocess_env

from ms_plugin.cli import run_tool
from ms_plugin.utils.errors import InputError

demo = load_tool('demo')  # puts tools/demo/ on sys.path, where the demo's parts live
import demo_data  # noqa: E402
from demo_agreement import translation_agreement  # noqa: E402
from demo_progress import ProgressBarHook  # noqa: E402

TINY = ['--num-videos', '20', '--val-videos', '10', '--size', '96', '--epochs', '1',
        '--threads', '1', '--cfg-options', 'train_dataloader.batch_size=2']


def _args(work_dir: Path, *extra: str):
    args = demo.parse_args(['--work-dir', str(work_dir), '--num-videos', '6', '--val-videos',
                            '4', '--size', '32', '--frames', '4', *extra])
    args.work_dir = str(work_dir)
    return args


@pytest.fixture(scope='module')
def tiny_demo(tmp_path_factory):
    """One tiny run of the demo, as `make demo` starts it (TSN and MSNet only)."""
    work_dir = tmp_path_factory.mktemp('demo')
    env = subprocess_env()
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / 'tools' / 'demo.py'), '--work-dir', str(work_dir),
         '--models', 'tsn', 'msnet'] + TINY, cwd=str(REPO_ROOT), env=env, timeout=600,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return work_dir, proc.stdout


def test_tiny_demo_runs_every_stage(tiny_demo):
    work_dir, output = tiny_demo
    for stage in ('[1/4] data', '[2/4] TSN-R18', '[3/4] MSNet-R18', '[4/4] motion'):
        assert stage in output
    # Each result as soon as it is known, then the table.
    assert output.index('TSN-R18: top-1') < output.index('[3/4] MSNet-R18')
    assert str(work_dir) in output.splitlines()[0], 'the console says where everything goes'
    saved = json.loads((work_dir / 'results.json').read_text())
    results = saved['results']
    assert list(results) == ['tsn', 'msnet']
    table = (work_dir / 'results.md').read_text()
    for key, name in (('tsn', 'TSN-R18'), ('msnet', 'MSNet-R18')):
        top1 = results[key]['top1']
        # 10 test videos: top-1 is a whole number of them, and the table prints it.
        assert round(top1 * 10, 6) == int(round(top1 * 10))
        assert f'| {name} | {100 * top1:.1f} |' in table
        for log in ('train.log', 'test.log', 'flops.log'):
            assert (work_dir / key / log).stat().st_size > 0
        assert Path(results[key]['checkpoint']).is_file()
    assert results['msnet']['mparams'] > results['tsn']['mparams']
    assert '20 training / 10 test videos' in table
    # The demo's data holds the 5 classes its configs are sized for.
    from synthetic_writer import TRANSLATION_CLASSES
    classes = (work_dir / 'data' / 'classes.txt').read_text().splitlines()
    assert tuple(classes) == TRANSLATION_CLASSES
    assert '5 classes (chance 20%)' in table
    # The console shows results, not MMEngine's log lines (they stay in the files).
    assert 'mmengine - INFO' not in output
    assert 'pkg_resources' not in output, 'warnings of the imports stay off the console'
    assert 'Epoch(train)' in (work_dir / 'msnet' / 'train.log').read_text()
    # --cfg-options reach the training: 20 videos in batches of 2 are 10 iterations.
    assert re.search(r'Epoch\(train\)\s+\[1\]\[\s*10/10\]',
                     (work_dir / 'msnet' / 'train.log').read_text())
    assert 'train_dataloader.batch_size=2' in table


def test_tiny_demo_draws_and_checks_the_trained_msnet(tiny_demo):
    work_dir, output = tiny_demo
    check = json.loads((work_dir / 'motion_check.json').read_text())
    from PIL import Image
    with Image.open(work_dir / 'motion.png') as image:
        assert image.size[0] > 400 and image.size[1] > 200
    assert check['grid'] == [12, 12]  # 96 px / stride 8
    assert check['object_cells'] > 0 and check['background_cells'] > 0
    assert check['passed'], check['summary']
    assert check['summary'] in output
    # The figure is of the checkpoint the demo trained, not of a random initialisation.
    assert 'random initialisation' not in (work_dir / 'motion.log').read_text()


def test_data_is_reused_and_force_writes_it_again(tmp_path):
    args = _args(tmp_path)
    data_dir = tmp_path / 'data'
    demo_data.make_data(args, str(data_dir))
    video = data_dir / 'videos' / 'train' / 'train_00000.mp4'
    first = video.stat().st_mtime_ns
    (tmp_path / 'notes.txt').write_text('mine')
    demo_data.make_data(args, str(data_dir))
    assert video.stat().st_mtime_ns == first, 'a second run must reuse the data'
    os.utime(video, ns=(first - 10**9, first - 10**9))
    demo_data.make_data(_args(tmp_path, '--force'), str(data_dir))
    assert video.stat().st_mtime_ns > first - 10**9, '--force must write the data again'
    assert (tmp_path / 'notes.txt').read_text() == 'mine', '--force touches WORK_DIR/data only'
    meta = json.loads((data_dir / 'meta.json').read_text())
    assert meta['num_videos'] == {'train': 6, 'val': 4} and meta['size'] == 32


def test_data_of_other_classes_is_not_reused(tmp_path):
    """A dataset of all 10 classes (e.g. from an older demo) is not the demo's: --force."""
    args = _args(tmp_path)
    data_dir = tmp_path / 'data'
    demo_data.make_data(args, str(data_dir))
    meta = json.loads((data_dir / 'meta.json').read_text())
    assert meta['classes'] == list(demo_data.demo_classes())
    assert meta['spec']['radius'] == list(demo_data.OBJECT_RADIUS)
    other = demo_data.wanted_meta(_args(tmp_path, '--radius', '0.2', '0.3'))
    assert other['spec']['radius'] == [0.2, 0.3] and other['spec'] != meta['spec']
    meta['classes'] = meta['classes'] + ['rotating clockwise']
    (data_dir / 'meta.json').write_text(json.dumps(meta))
    with pytest.raises(InputError, match='classes'):
        demo_data.make_data(args, str(data_dir))


def test_other_settings_need_force(tmp_path):
    demo_data.make_data(_args(tmp_path), str(tmp_path / 'data'))
    with pytest.raises(InputError, match='--force'):
        demo_data.make_data(_args(tmp_path, '--seed', '3'), str(tmp_path / 'data'))
    demo_data.make_data(_args(tmp_path, '--seed', '3', '--force'), str(tmp_path / 'data'))
    assert json.loads((tmp_path / 'data' / 'meta.json').read_text())['seed'] == 3


def test_an_interrupted_write_is_started_again(tmp_path):
    args = _args(tmp_path)
    data_dir = tmp_path / 'data'
    demo_data.make_data(args, str(data_dir))
    (data_dir / 'meta.json').unlink()  # meta.json is written last
    demo_data.make_data(args, str(data_dir))
    assert (data_dir / 'meta.json').is_file()


def test_files_the_demo_did_not_write_are_left_alone(tmp_path):
    data_dir = tmp_path / 'data'
    data_dir.mkdir()
    (data_dir / 'my_videos.txt').write_text('precious')
    for extra in ((), ('--force', )):
        with pytest.raises(InputError, match='did not write'):
            demo_data.make_data(_args(tmp_path, *extra), str(data_dir))
    assert (data_dir / 'my_videos.txt').read_text() == 'precious'


def _no_training(*args, **kwargs):
    raise AssertionError('the demo must stop before training')


def _main_status(argv) -> int:
    return run_tool(demo.main, argv)


def test_read_only_work_dir_stops_before_training(tmp_path, monkeypatch, capsys):
    def read_only(path, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(demo, 'run_model', _no_training)
    monkeypatch.setattr(demo, 'write_data', _no_training)
    monkeypatch.setattr(demo.os, 'makedirs', read_only)
    assert _main_status(['--work-dir', str(tmp_path / 'demo')]) == 2
    error = capsys.readouterr().err
    assert len(error.strip().splitlines()) == 1, error
    assert 'cannot be written' in error and os.strerror(errno.EROFS) in error
    assert '--work-dir' in error


def test_unwritable_work_dir_path_is_reported(tmp_path, capsys):
    (tmp_path / 'a_file').write_text('')
    assert _main_status(['--work-dir', str(tmp_path / 'a_file' / 'demo')]) == 2
    assert 'cannot be written' in capsys.readouterr().err


def test_full_disk_stops_before_training(tmp_path, monkeypatch, capsys):
    usage = namedtuple('usage', 'total used free')
    monkeypatch.setattr(demo_data.shutil, 'disk_usage',
                        lambda path: usage(10**9, 10**9, 5 * 2**20))
    monkeypatch.setattr(demo, 'run_model', _no_training)
    monkeypatch.setattr(demo, 'write_data', _no_training)
    assert _main_status(['--work-dir', str(tmp_path / 'demo')]) == 2
    error = capsys.readouterr().err
    assert 'only 5 MB free' in error and 'MB' in error
    assert not (tmp_path / 'demo' / 'data').exists()


def test_disk_estimate_grows_with_the_data_and_the_models(tmp_path):
    small = demo_data.needed_megabytes(_args(tmp_path))
    more_videos = demo_data.needed_megabytes(_args(tmp_path, '--num-videos', '100000'))
    one_model = demo_data.needed_megabytes(_args(tmp_path, '--models', 'msnet'))
    assert more_videos > small > one_model >= demo_data.MB_PER_MODEL


def test_progress_hook_follows_training_and_test_iterations():
    """The hook counts the Runner's iterations; without a terminal, one call per epoch."""
    epochs = []
    hook = ProgressBarHook('[2/5] TSM-R18', disable=True,
                           on_epoch=lambda *values: epochs.append(values))
    runner = SimpleNamespace(max_iters=6, max_epochs=2, epoch=0,
                             test_dataloader=list(range(13)))
    hook.before_train(runner)
    for epoch in (0, 1):
        runner.epoch = epoch
        for it in (1, 2, 3):
            hook.after_train_iter(runner, it - 1, outputs=dict(loss=torch.tensor(2.3 - it / 10)))
            assert hook.done == epoch * 3 + it
        hook.after_train_epoch(runner)
    hook.after_train(runner)
    assert hook.total == 6
    assert [(e, n) for e, n, _, _ in epochs] == [(1, 2), (2, 2)]
    assert epochs[-1][2] == pytest.approx(2.0)  # the epoch's last loss
    hook.before_test(runner)
    for batch in range(5):
        hook.after_test_iter(runner, batch)
    assert (hook.done, hook.total) == (5, 13)
    # Shared, not copied, by the Runner's deep copy of its config.
    import copy
    assert copy.deepcopy(dict(custom_hooks=[hook]))['custom_hooks'][0] is hook


def test_translation_agreement_of_known_maps():
    frames, grid, cell = 3, 6, 4
    masks = np.zeros((frames, grid * cell, grid * cell), np.float32)
    motion = torch.zeros(frames, 3, grid, grid)
    for t in range(frames):
        masks[t, 8:16, 4 * t:4 * t + 8] = 1  # a 2x2-cell object, one cell right a frame
        motion[t, 0, 2:4, t:t + 2] = 1 / 7  # dx = one cell
    result = translation_agreement(motion, masks, (1, 0), max_displacement=7)
    assert result['object_cells'] == 4 * (frames - 1)
    assert result['angle_error'] == pytest.approx(0, abs=1e-3)
    assert result['object_along'] == pytest.approx(1.0)
    assert result['object_aligned'] == 1.0 and result['background_still'] == 1.0
    assert translation_agreement(motion, masks, (-1, 0), 7)['angle_error'] == pytest.approx(180)
    assert translation_agreement(motion, masks, (0, 1), 7)['object_aligned'] == 0.0
    noisy = motion.clone()
    noisy[:, 0, 5, :] = -1  # the bottom row of the background moves 7 cells left
    assert translation_agreement(noisy, masks, (1, 0), 7)['background_still'] < 0.9


def test_flops_count_the_model_as_trained(tmp_path, monkeypatch):
    """The FLOP count gets the demo's frame count and the user's --cfg-options, as training."""
    calls = {}

    def fake_train_and_test(config, work_dir, seed, options, hook):
        calls['train'] = options
        return dict(checkpoint='x.pth', train_minutes=0.1, top1=0.5, top5=1.0)

    def fake_complexity(config, shape, options, log_file):
        calls['flops'] = (shape, options)
        return dict(gflops=1.5, mparams=11.2)

    monkeypatch.setattr(demo, 'train_and_test', fake_train_and_test)
    monkeypatch.setattr(demo, 'complexity', fake_complexity)
    args = _args(tmp_path, '--cfg-options', 'model.cls_head.dropout_ratio=0.2')
    stages = demo.Stages(['data', 'TSM-R18'])
    result = demo.run_model('tsm', args, str(tmp_path / 'data'), stages)
    assert result['gflops'] == 1.5 and result['top1'] == 0.5
    shape, options = calls['flops']
    assert shape == (1, 4, 3, 32, 32)  # _args: 4 frames of 32x32
    assert 'model.backbone.num_segments=4' in options
    assert options[-1] == calls['train'][-1] == 'model.cls_head.dropout_ratio=0.2'
