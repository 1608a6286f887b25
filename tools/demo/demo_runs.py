"""The runs of ``make demo``, in one process: train, test, count and draw each model.

Training and testing are :func:`ms_plugin.engine.runner.run_and_tear_down` on
configs merged as ``tools/train.py`` and ``tools/test.py`` merge their command
lines, so the seeding is theirs. The metrics are what ``Runner.test()``
returns, the FLOPs what :func:`ms_plugin.apis.count_flops` returns, the
progress is drawn by a :class:`demo_progress.ProgressBarHook`; MMEngine's log of
each run goes to a file.
"""
import argparse
import contextlib
import os.path as osp
import time
from typing import Dict, Iterator, List, Optional

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from mmengine.config import DictAction

from demo_agreement import translation_agreement
from demo_data import demo_classes, demo_spec
from demo_progress import ProgressBarHook
from ms_plugin.apis import (build_recognizer, count_flops, flops_report, save_motion,
                            video_motion, write_motion)
from synthetic_render import make_clip_masks
from ms_plugin.engine.runner import merge_test_args, merge_train_args, run_and_tear_down

__all__ = ['check_motion', 'complexity', 'draw_motion', 'train_and_test']

# What the check of the motion maps asks (cells of the MS module's grid): the
# object's median displacement within this angle of its true direction, most of
# its cells pointing the right way, and most background cells (a cell away
# from the object) below half a cell.
MAX_ANGLE_ERROR = 30.0
MIN_OBJECT_ALIGNED = 0.5
MIN_BACKGROUND_STILL = 0.5
# Output stride of res3 (layer2) of a ResNet: one cell of the MS module's maps
# is this many pixels.
RES3_STRIDE = 8
# Full colour at a quarter above the data's fastest translation, so that the
# object's true motion, not the largest outlier, sets the colour scale.
SATURATION_MARGIN = 1.25


@contextlib.contextmanager
def logged_to(path: str, experiment: str) -> Iterator[None]:
    """Send what a run prints (MMEngine's console log, warnings) to ``path``.

    The Runner's logger is made inside the block, so its console handler
    holds the file; it is closed and removed afterwards.
    """
    with open(path, 'w') as log, contextlib.redirect_stdout(log), \
            contextlib.redirect_stderr(log):
        try:
            yield
        finally:
            logger = MMLogger.get_instance(experiment)
            for handler in list(logger.handlers):
                handler.close()
                logger.removeHandler(handler)


def parse_options(options: List[str]) -> dict:
    """``['a.b=1', 'c=[2,3]']`` -> ``{'a.b': 1, 'c': [2, 3]}``, as ``--cfg-options`` parses them."""
    namespace = argparse.Namespace(cfg_options={})
    if options:
        DictAction(option_strings=[], dest='cfg_options')(None, namespace, list(options))
    return namespace.cfg_options


def _run(cfg: Config, action: str, log_file: str, hook: ProgressBarHook):
    """``run_and_tear_down(cfg, action)`` with the progress hook, logged to ``log_file``."""
    # A new logger and visualizer per run (MMEngine keys them by this name).
    cfg.experiment_name = f'demo_{action}_{time.time_ns()}'
    with logged_to(log_file, cfg.experiment_name):
        return run_and_tear_down(cfg, action, hooks=(hook, ))


def train_and_test(config: str, work_dir: str, seed: int, options: List[str],
                   hook: ProgressBarHook) -> Dict[str, object]:
    """Train ``config`` from scratch, then test its last checkpoint.

    Args:
        config (str): The config file.
        work_dir (str): Checkpoints go here, logs to ``train.log`` and ``test.log``.
        seed (int): The training seed (``tools/train.py --seed``).
        options (list[str]): ``--cfg-options`` of training and testing.
        hook (ProgressBarHook): Draws the progress.

    Returns:
        dict: ``checkpoint``, ``train_minutes``, ``top1`` and ``top5``.
    """
    parsed = parse_options(options)
    start = time.time()
    cfg = merge_train_args(Config.fromfile(config), work_dir=work_dir, seed=seed,
                           cfg_options=parsed)
    _run(cfg, 'train', osp.join(work_dir, 'train.log'), hook)
    train_minutes = (time.time() - start) / 60
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    cfg = merge_test_args(Config.fromfile(config), checkpoint,
                          work_dir=osp.join(work_dir, 'test'), cfg_options=parsed)
    metrics = _run(cfg, 'test', osp.join(work_dir, 'test.log'), hook)
    return dict(checkpoint=checkpoint, train_minutes=train_minutes,
                top1=float(metrics['acc/top1']), top5=float(metrics['acc/top5']))


def complexity(config: str, shape: tuple, options: List[str], log_file: str
               ) -> Dict[str, float]:
    """Parameters (M) and FLOPs (G multiply-adds) of one clip of ``shape``, with ``options``."""
    result = count_flops(config, shape, parse_options(options))
    with open(log_file, 'w') as log:
        log.write(flops_report(result, config) + '\n')
    return dict(gflops=round(result['flops'] / 1e9, 3), mparams=round(result['params'] / 1e6, 3))


def check_motion(motion: torch.Tensor, max_displacement: int, video: str, label: int,
                 args: argparse.Namespace) -> dict:
    """Compare the motion maps of test ``video`` with where its object really is."""
    index = int(osp.splitext(osp.basename(video))[0].rsplit('_', 1)[-1])
    masks = make_clip_masks(label, args.seed, 'val', index, args.size, args.frames,
                            spec=demo_spec(args), classes=demo_classes())
    check = translation_agreement(motion, masks, (1, 0), max_displacement)
    check['passed'] = bool(check['angle_error'] <= MAX_ANGLE_ERROR
                           and check['object_aligned'] >= MIN_OBJECT_ALIGNED
                           and check['background_still'] >= MIN_BACKGROUND_STILL)
    check['grid'] = list(motion.shape[-2:])
    check['summary'] = (
        f"{'PASSED' if check['passed'] else 'FAILED'}: on the {check['grid'][0]}x"
        f"{check['grid'][1]} grid the object moves {check['angle_error']:.0f} deg off its "
        f"true direction (<= {MAX_ANGLE_ERROR:.0f}), {100 * check['object_aligned']:.0f} % of "
        f"its cells within 45 deg (>= {100 * MIN_OBJECT_ALIGNED:.0f}), "
        f"{100 * check['background_still']:.0f} % of the background below 0.5 cell "
        f"(>= {100 * MIN_BACKGROUND_STILL:.0f})")
    return check


def draw_motion(config: str, checkpoint: str, video: str, out: str, options: List[str],
                args: argparse.Namespace, log_file: Optional[str] = None) -> dict:
    """The trained model's motion maps of ``video`` (moving right): figure, maps, check.

    Writes ``out`` (the figure) and ``motion.npz`` beside it (the maps, as
    ``tools/visualize_motion.py --save-motion`` writes them).

    Returns:
        dict: :func:`check_motion`'s result.
    """
    model, cfg = build_recognizer(config, checkpoint, cfg_options=parse_options(options))
    result, titles = video_motion(model, cfg, video)
    saturation = SATURATION_MARGIN * demo_spec(args).speed[1] * args.size / RES3_STRIDE
    count, shape = write_motion(
        result, titles, out, max_magnitude=float(f'{saturation:.1f}'),
        title=f'{osp.basename(video)}: {result.module} '
        f'({osp.splitext(osp.basename(config))[0]})')
    save_motion(result, osp.join(osp.dirname(out), 'motion.npz'))
    if log_file is not None:
        with open(log_file, 'w') as log:
            log.write(f'wrote {out}: {shape[1]}x{shape[0]} px, {count} image(s), module '
                      f'{result.module}, {len(titles)} frame pairs of {video}, weights '
                      f'{checkpoint}\n')
    label = demo_classes().index('moving right')
    return check_motion(result.motion, result.max_displacement, video, label, args)
