#!/usr/bin/env python
"""The quick start (``make demo``): MSNet, TSM and TSN on synthetic motion, on a CPU.

Stages (the console shows which one of how many, with a progress bar):

1. data: writes the synthetic motion dataset (5 classes that differ only in
   how a textured object moves over a textured background: it stays still or
   moves left, right, up or down; see ``tools/data/synthetic/synthetic_writer.py``)
   into ``WORK_DIR/data``, or reuses the one already there (``--force`` writes
   it again).
2. one stage per model of ``configs/synthetic/``: trains it from scratch,
   tests the last checkpoint and counts its parameters and FLOPs, all in this
   process (``tools/demo/``: the training and testing of ``tools/train.py``
   and ``tools/test.py``, the count of ``tools/analysis/get_flops.py``); the
   full logs go to ``WORK_DIR/<model>/*.log``. Each result is printed as soon
   as it is known.
3. motion: draws the trained MSNet's motion maps of one test clip
   (``WORK_DIR/motion.png``, as ``tools/visualize_motion.py`` draws them) and
   checks them against where the object really is
   (``WORK_DIR/motion_check.json``).

The table (top-1, parameters, FLOPs, training time) is printed at the
end and written to ``WORK_DIR/results.md`` and ``results.json``.

Before anything is trained, the demo checks that ``WORK_DIR`` is writable and
that its disk has room, and stops with the fix if not.

Examples::

    python tools/demo.py                       # what `make demo` runs
    python tools/demo.py --seed 1 --work-dir work_dirs/demo_seed1
    python tools/demo.py --force               # write the data again
"""
import ms_plugin  # noqa: F401,I001  (first: it keeps the stack's import warnings off the console)
import argparse
import json
import os
import os.path as osp
import sys
import time
import warnings
from typing import Dict, List, Optional

import torch
from mmengine.config import Config
from tqdm import tqdm

from ms_plugin.cli import add_seed, run_tool

# the demo's parts, and the synthetic data generator
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'demo'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'synthetic'))
from demo_data import (OBJECT_RADIUS, OBJECT_SPEED, check_work_dir, data_options,  # noqa: E402
                       demo_classes, make_data, model_options, needed_megabytes)
from demo_progress import ProgressBarHook  # noqa: E402
from demo_runs import complexity, draw_motion, train_and_test  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MODELS = {
    'tsn': ('TSN-R18', 'configs/synthetic/tsn_r18_synthetic.py'),
    'tsm': ('TSM-R18', 'configs/synthetic/tsm_r18_synthetic.py'),
    'msnet': ('MSNet-R18', 'configs/synthetic/msnet_r18_synthetic.py'),
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate synthetic motion data, train and test MSNet, TSM and TSN '
        '(R18, from scratch) on it, compare them and draw what MSNet learned.')
    parser.add_argument('--work-dir', default='work_dirs/demo',
                        help='where data, logs, checkpoints and results go (default: '
                        'work_dirs/demo)')
    parser.add_argument('--models', nargs='+', choices=list(MODELS), default=list(MODELS),
                        help='models to run, in this order (default: all)')
    add_seed(parser, 'the data and of the training')
    parser.add_argument('--force', action='store_true',
                        help='write the data again even if WORK_DIR/data holds it')
    parser.add_argument('--num-videos', type=int, default=640,
                        help='training videos (default: 640)')
    parser.add_argument('--val-videos', type=int, default=200,
                        help='test videos (default: 200)')
    parser.add_argument('--size', type=int, default=96,
                        help='frame side in pixels (default: 96: the MS module after res3 '
                        'sees 12x12 feature maps)')
    parser.add_argument('--frames', type=int, default=8,
                        help='frames per video, all of them sampled (default: 8)')
    parser.add_argument('--epochs', type=int, default=None,
                        help="training epochs (default: the configs' max_epochs)")
    parser.add_argument('--radius', type=float, nargs=2, default=OBJECT_RADIUS,
                        metavar=('MIN', 'MAX'),
                        help='object radius range in frame sides (default: '
                        f'{OBJECT_RADIUS[0]} {OBJECT_RADIUS[1]})')
    parser.add_argument('--speed', type=float, nargs=2, default=OBJECT_SPEED,
                        metavar=('MIN', 'MAX'),
                        help='object speed range in frame sides per frame (default: '
                        f'{OBJECT_SPEED[0]} {OBJECT_SPEED[1]})')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='passed on to the training and testing of every model, '
                        "after the demo's own (e.g. train_dataloader.batch_size=8)")
    parser.add_argument('--threads', type=int,
                        default=int(os.environ.get('OMP_NUM_THREADS', 2)),
                        help='CPU threads (default: $OMP_NUM_THREADS, else 2)')
    return parser.parse_args(argv)


class Stages:
    """Console output: '[i/n] stage' headers, tqdm bars, and results printed at once.

    What the runs print goes to their log files; this writes to the console
    it was made on.
    """

    def __init__(self, names: List[str]) -> None:
        self.names = names
        self.out, self.err = sys.stdout, sys.stderr
        # Bars only on a terminal; in a pipe or a file, one line per step instead.
        self.interactive = self.err.isatty()

    def start(self, name: str, detail: str = '') -> str:
        tag = f'[{self.names.index(name) + 1}/{len(self.names)}] {name}'
        self.say(f'{tag}{": " + detail if detail else ""}')
        return tag

    def say(self, text: str) -> None:
        tqdm.write(text, file=self.out)
        self.out.flush()

    def bar(self, desc: str, total: int, unit: str) -> tqdm:
        return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=False,
                    file=self.err, disable=not self.interactive)

    def progress_hook(self, tag: str) -> ProgressBarHook:
        """Bars of a model's training and test; a line per epoch without a terminal."""

        def epoch_line(epoch: int, epochs: int, loss: float, seconds: float) -> None:
            if not self.interactive:
                self.say(f'    epoch {epoch}/{epochs}: loss {loss:.3f} ({seconds:.0f} s)')

        return ProgressBarHook(tag, file=self.err, disable=not self.interactive,
                               on_epoch=epoch_line)


def write_data(args: argparse.Namespace, data_dir: str, stages: Stages) -> None:
    tag = stages.start('data', data_dir)
    start = time.time()
    bar = stages.bar(f'{tag} writing', args.num_videos + args.val_videos, 'video')
    reused = make_data(args, data_dir, progress=lambda split, done, count: bar.update(1))
    bar.close()
    if reused:
        stages.say('    reusing the dataset already there (--force writes it again)')
    else:
        stages.say(f'    {args.num_videos} training and {args.val_videos} test videos of '
                   f'{args.frames} frames, {args.size}x{args.size}, in '
                   f'{time.time() - start:.0f} s')


def config_epochs(config: str) -> int:
    """The training epochs ``config`` sets (``train_cfg.max_epochs``)."""
    return int(Config.fromfile(osp.join(ROOT, config)).train_cfg.max_epochs)


def run_model(key: str, args: argparse.Namespace, data_dir: str, stages: Stages) -> Dict:
    """Train, test and count one model; its result as soon as it is known."""
    name, config = MODELS[key]
    work_dir = osp.join(args.work_dir, key)
    os.makedirs(work_dir, exist_ok=True)
    tag = stages.start(name, f'{config}; logs in {work_dir}/')
    epochs = args.epochs or config_epochs(config)
    options = data_options(data_dir) + model_options(args.frames, key != 'tsn') + [
        'default_hooks.logger.interval=1']
    if args.epochs:
        options += [f'train_cfg.max_epochs={epochs}', f'train_cfg.val_begin={epochs + 1}',
                    f'param_scheduler.1.T_max={epochs}', f'param_scheduler.1.end={epochs}',
                    f'default_hooks.checkpoint.interval={epochs}']
    else:
        # No validation during training: the test evaluates the same weights.
        options.append(f'train_cfg.val_begin={epochs + 1}')
    options += args.cfg_options  # the user's last: they override the demo's
    result = dict(name=name)
    result.update(train_and_test(osp.join(ROOT, config), work_dir, args.seed, options,
                                 stages.progress_hook(tag)))
    # N T C H W: one clip of args.frames frames, the model as trained.
    shape = (1, args.frames, 3, args.size, args.size)
    result.update(complexity(osp.join(ROOT, config), shape,
                             model_options(args.frames, key != 'tsn') + args.cfg_options,
                             osp.join(work_dir, 'flops.log')))
    # With 5 classes top-5 is always 100 %: results.json keeps it, the console does not.
    stages.say(f'    {name}: top-1 {100 * result["top1"]:.1f} % on {args.val_videos} test '
               f'videos ({result["train_minutes"]:.1f} min training)')
    return result


def table(results: List[Dict], args: argparse.Namespace, epochs: int) -> str:
    classes = demo_classes()
    lines = [
        f'Synthetic motion, {len(classes)} classes (chance {100 / len(classes):.0f}%), '
        f'{args.num_videos} training / {args.val_videos} test videos, {args.frames} frames '
        f'of {args.size}x{args.size}, R18 from scratch, {epochs} epochs, seed {args.seed}, '
        f'{args.threads} CPU threads'
        + ('' if tuple(args.radius) == OBJECT_RADIUS else
           f', object radius {args.radius[0]}-{args.radius[1]} of the frame')
        + ('' if tuple(args.speed) == OBJECT_SPEED else
           f', speed {args.speed[0]}-{args.speed[1]} of the frame per frame')
        + (f', {" ".join(args.cfg_options)}' if args.cfg_options else ''),
        '',
        '| model | top-1 (%) | params (M) | GFLOPs per clip | training (min) |',
        '| --- | --- | --- | --- | --- |',
    ]
    for r in results:
        lines.append(f'| {r["name"]} | {100 * r["top1"]:.1f} | '
                     f'{r["mparams"]:.2f} | {r["gflops"]:.3f} | {r["train_minutes"]:.1f} |')
    return '\n'.join(lines)


def motion_stage(result: Dict, args: argparse.Namespace, data_dir: str,
                 stages: Stages) -> dict:
    """The trained MSNet's motion maps of the first test clip moving right, and their check."""
    label = demo_classes().index('moving right')
    with open(osp.join(data_dir, 'val_list_videos.txt')) as f:
        video = next(line.split()[0] for line in f if int(line.split()[1]) == label)
    out = osp.join(args.work_dir, 'motion.png')
    stages.start('motion', f"the trained MSNet's motion maps of test video {video} "
                 '(moving right)')
    check = draw_motion(osp.join(ROOT, MODELS['msnet'][1]), result['checkpoint'],
                        osp.join(data_dir, 'videos', video), out,
                        model_options(args.frames) + args.cfg_options, args,
                        osp.join(args.work_dir, 'motion.log'))
    check.update(video=video, figure=out)
    with open(osp.join(args.work_dir, 'motion_check.json'), 'w') as f:
        json.dump(check, f, indent=1)
    stages.say(f'    wrote {out}\n    check of its maps: {check["summary"]}')
    return check


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    start = time.time()
    args.work_dir = osp.abspath(args.work_dir)
    data_dir = osp.join(args.work_dir, 'data')
    names = ['data'] + [MODELS[key][0] for key in args.models]
    if 'msnet' in args.models:
        names.append('motion')
    stages = Stages(names)
    check_work_dir(args.work_dir, needed_megabytes(args))
    torch.set_num_threads(args.threads)
    warnings.simplefilter('ignore')  # as the tools' runs with PYTHONWARNINGS=ignore
    stages.say(f'MotionSqueeze demo: {len(names)} stages; everything (data, full logs, '
               f'checkpoints, results) goes to {args.work_dir}/')
    write_data(args, data_dir, stages)
    results = {key: run_model(key, args, data_dir, stages) for key in args.models}
    text = table(list(results.values()), args,
                 args.epochs or config_epochs(MODELS[args.models[0]][1]))
    minutes = (time.time() - start) / 60
    text += f'\n\n`make demo` total: {minutes:.1f} min (data, training, tests).'
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(text + '\n')
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(dict(results=results, minutes=minutes, args=vars(args)), f, indent=1)
    stages.say('\n' + text + '\n')
    if 'msnet' in results:
        motion_stage(results['msnet'], args, data_dir, stages)
    stages.say(f'Done in {(time.time() - start) / 60:.1f} min; the table is in '
               f'{args.work_dir}/results.md, the full logs in {args.work_dir}/<model>/.')
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
