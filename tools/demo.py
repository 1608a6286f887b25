#!/usr/bin/env python
"""The quick start (``make demo``): MSNet, TSM and TSN on synthetic motion, on a CPU.

Stages (the console shows which one of how many, with a progress bar):

1. data: writes the synthetic motion dataset (5 classes that differ only in
   how a textured object moves over a textured background: it stays still or
   moves left, right, up or down; see ``ms_plugin/datasets/synthetic_motion.py``)
   into ``WORK_DIR/data``, or reuses the one already there (``--force`` writes
   it again).
2. one stage per model of ``configs/synthetic/``: trains it from scratch with
   ``tools/train.py``, tests the last checkpoint with ``tools/test.py`` and
   counts its parameters and FLOPs with ``tools/analysis/get_flops.py``
   (subprocesses; their full logs go to ``WORK_DIR/<model>/*.log``). Each
   result is printed as soon as it is known.
3. motion: draws the trained MSNet's motion maps of one test clip with
   ``tools/visualize_motion.py`` (``WORK_DIR/motion.png``) and checks them
   against where the object really is (``WORK_DIR/motion_check.json``).

The table (top-1, parameters, FLOPs, training time) is printed at the
end and written to ``WORK_DIR/results.md`` and ``results.json``.

Before anything is trained, the demo checks that ``WORK_DIR`` is writable and
that its disk has room, and stops with the fix if not.

Examples::

    python tools/demo.py                       # what `make demo` runs
    python tools/demo.py --seed 1 --work-dir work_dirs/demo_seed1
    python tools/demo.py --force               # write the data again
"""
import argparse
import json
import math
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import time
import warnings
from typing import Callable, Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
# mmcv-lite says it lacks mmcv's CUDA ops when mmaction is imported; the demo
# needs none of them (its subprocesses run with PYTHONWARNINGS=ignore).
warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')
# mmengine imports pkg_resources, which setuptools >= 81 says is deprecated.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated')

try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover - the environment is incomplete
    sys.exit('tools/demo.py needs tqdm (requirements/pinned.txt); build the environment with '
             '`make venv` or `pip install -r requirements/pinned.txt`.')

# The demo's objects are larger and faster than the generator's defaults: a
# radius of 0.25 to 0.35 frame sides (24 to 34 px at 96 px; default 0.18 to
# 0.3) and 0.2 to 0.28 frame sides per frame (19 to 27 px, 2.4 to 3.4 cells of
# the MS module's 12x12 grid; default 0.14 to 0.2). More cells move, by more:
# MSNet-R18 learns the directions within the demo's budget (docs/demo.md has
# the runs behind these values).
OBJECT_RADIUS = (0.25, 0.35)
OBJECT_SPEED = (0.2, 0.28)

MODELS = {
    'tsn': ('TSN-R18', 'configs/synthetic/tsn_r18_synthetic.py'),
    'tsm': ('TSM-R18', 'configs/synthetic/tsm_r18_synthetic.py'),
    'msnet': ('MSNet-R18', 'configs/synthetic/msnet_r18_synthetic.py'),
}
# Disk the demo needs besides its data: one checkpoint per model (weights and
# SGD momentum of an R18, about 90 MB) and logs, with a margin.
MB_PER_MODEL = 150
MB_MARGIN = 50
# Bytes of one mp4 video of the dataset per pixel of one frame (measured: about
# 8 kB for 8 frames of 96x96), with a margin.
VIDEO_BYTES_PER_PIXEL = 2.0
# The file the demo writes first into its data folder: a folder with it is the
# demo's own, which --force (or an interrupted write) may replace.
DATA_MARKER = '.written_by_tools_demo'
TRAIN_LINE = re.compile(r'Epoch\(train\)\s+\[(\d+)\]\[\s*(\d+)/(\d+)\].*?loss: ([0-9.]+)')
EVAL_LINE = re.compile(r'Epoch\((?:test|val)\)\s+(?:\[\d+\])?\[\s*(\d+)/(\d+)\]')


class DemoError(Exception):
    """A problem the user can fix; main() prints it without a traceback."""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate synthetic motion data, train and test MSNet, TSM and TSN '
        '(R18, from scratch) on it, compare them and draw what MSNet learned.')
    parser.add_argument('--work-dir', default='work_dirs/demo',
                        help='where data, logs, checkpoints and results go (default: '
                        'work_dirs/demo)')
    parser.add_argument('--models', nargs='+', choices=list(MODELS), default=list(MODELS),
                        help='models to run, in this order (default: all)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the data and of the training (default: 0)')
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
                        help='passed on to tools/train.py and tools/test.py of every model, '
                        "after the demo's own (e.g. train_dataloader.batch_size=8)")
    parser.add_argument('--threads', type=int,
                        default=int(os.environ.get('OMP_NUM_THREADS', 2)),
                        help='CPU threads of each process (default: $OMP_NUM_THREADS, else 2)')
    return parser.parse_args(argv)


# ------------------------------------------------------------------ checks
def needed_megabytes(args: argparse.Namespace) -> int:
    videos = args.num_videos + args.val_videos
    data = videos * args.frames * args.size**2 * VIDEO_BYTES_PER_PIXEL / 8 / 2**20
    return int(math.ceil(data)) + MB_PER_MODEL * len(args.models) + MB_MARGIN


def check_work_dir(work_dir: str, megabytes: int) -> None:
    """Stop before any work if ``work_dir`` cannot be written or its disk is too full.

    Raises:
        DemoError: Naming the problem and what to do about it.
    """
    hint = ("run the demo from a writable copy of the repository, or point it elsewhere: "
            "make demo DEMO_ARGS='--work-dir /tmp/ms_demo' (python tools/demo.py "
            "--work-dir DIR)")
    probe = osp.join(work_dir, '.write_test')
    try:
        os.makedirs(work_dir, exist_ok=True)
        with open(probe, 'w') as f:
            f.write('ok')
        os.remove(probe)
    except OSError as error:
        raise DemoError(f'cannot write to {work_dir} ({error.strerror or error}): the demo '
                        f'writes its data, logs and checkpoints there. To fix it, {hint}.'
                        ) from error
    free = shutil.disk_usage(work_dir).free / 2**20
    if free < megabytes:
        raise DemoError(f'only {free:.0f} MB free on the disk of {work_dir}; the demo needs '
                        f'about {megabytes} MB (data, one checkpoint per model, logs). Free '
                        f'some space, or {hint} on another disk.')


# ------------------------------------------------------------------ subprocesses
def run(cmd: List[str], log_file: str, env: Dict[str, str],
        on_line: Optional[Callable[[str], None]] = None) -> str:
    """Run ``cmd`` from the repository root; all its output goes to ``log_file``.

    Returns:
        str: Everything the command printed.

    Raises:
        DemoError: If the command fails (with its last lines).
    """
    lines = []
    with open(log_file, 'w') as log:
        log.write('$ ' + ' '.join(cmd) + '\n')
        with subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
            for line in proc.stdout:
                log.write(line)
                lines.append(line)
                if on_line is not None:
                    on_line(line)
    if proc.returncode != 0:
        tail = ''.join(lines[-25:])
        raise DemoError(f'the end of its output:\n{tail}\n{" ".join(cmd[1:3])} failed (exit '
                        f'{proc.returncode}); its full output is in {log_file}.')
    return ''.join(lines)


class Stages:
    """Console output: '[i/n] stage' headers, tqdm bars, and results printed at once."""

    def __init__(self, names: List[str]) -> None:
        self.names = names
        self.current = 0
        # Bars only on a terminal; in a pipe or a file, one line per step instead.
        self.interactive = sys.stderr.isatty()

    def start(self, name: str, detail: str = '') -> str:
        self.current = self.names.index(name) + 1
        tag = f'[{self.current}/{len(self.names)}] {name}'
        self.say(f'{tag}{": " + detail if detail else ""}')
        return tag

    @staticmethod
    def say(text: str) -> None:
        tqdm.write(text)
        sys.stdout.flush()

    def bar(self, desc: str, total: int, unit: str) -> tqdm:
        return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=False,
                    disable=not self.interactive)


class LogProgress:
    """Turns MMEngine's per-iteration log lines of a subprocess into tqdm bars.

    Args:
        stages (Stages): The console.
        tag (str): Prefix of the bars, e.g. ``[2/5] TSM-R18``.
        epochs (int): Training epochs, for the bar's total. Defaults to 1.
    """

    def __init__(self, stages: Stages, tag: str, epochs: int = 1) -> None:
        self.stages = stages
        self.tag = tag
        self.epochs = epochs
        self.train_bar: Optional[tqdm] = None
        self.eval_bar: Optional[tqdm] = None
        # Counted here: a disabled bar (no terminal) counts nothing.
        self.train_done = self.train_total = self.eval_done = self.eval_total = 0
        self.start = time.time()

    def __call__(self, line: str) -> None:
        match = TRAIN_LINE.search(line)
        if match:
            self._train(int(match.group(1)), int(match.group(2)), int(match.group(3)),
                        float(match.group(4)))
            return
        match = EVAL_LINE.search(line)
        if match:
            done, total = int(match.group(1)), int(match.group(2))
            if self.eval_bar is None:
                self.eval_bar = self.stages.bar(f'{self.tag} test', total, 'batch')
                self.eval_total = total
            self.eval_bar.update(done - self.eval_done)
            self.eval_done = done
            if done == total:
                self.eval_bar.close()

    def _train(self, epoch: int, it: int, per_epoch: int, loss: float) -> None:
        if self.train_bar is None:
            self.train_total = self.epochs * per_epoch
            self.train_bar = self.stages.bar(f'{self.tag} train', self.train_total, 'it')
        bar = self.train_bar
        bar.set_postfix_str(f'epoch {epoch}/{self.epochs}, loss {loss:.3f}', refresh=False)
        done = (epoch - 1) * per_epoch + it
        bar.update(done - self.train_done)
        self.train_done = done
        if it == per_epoch:
            if not self.stages.interactive:
                self.stages.say(f'    epoch {epoch}/{self.epochs}: loss {loss:.3f} '
                                f'({time.time() - self.start:.0f} s)')
            if epoch == self.epochs:
                bar.close()


# ------------------------------------------------------------------ data
def demo_spec(args: argparse.Namespace):
    """The demo's :class:`MotionSpec`: ``--speed``, ``--radius``, the generator's zoom and spin."""
    from ms_plugin.datasets.synthetic_motion import MotionSpec
    return MotionSpec(speed=tuple(args.speed), radius=tuple(args.radius))


def demo_classes() -> tuple:
    """The demo's classes: still, or moving left, right, up or down (``--class-set translation``).

    The configs of :data:`MODELS` are sized for them (``num_classes = 5``).
    """
    from ms_plugin.datasets.synthetic_motion import TRANSLATION_CLASSES
    return TRANSLATION_CLASSES


def wanted_meta(args: argparse.Namespace) -> dict:
    wanted = dict(num_videos=dict(train=args.num_videos, val=args.val_videos), seed=args.seed,
                  size=args.size, num_frames=args.frames, spec=demo_spec(args).__dict__,
                  classes=demo_classes())
    # As meta.json holds it (tuples become lists), to compare with it.
    return json.loads(json.dumps(wanted))


def prepare_data_dir(data_dir: str, wanted: dict, force: bool) -> bool:
    """Decide whether ``data_dir`` is reused; clear it when it is to be written again.

    Returns:
        bool: True if ``data_dir`` already holds the wanted dataset.

    Raises:
        DemoError: If ``data_dir`` holds files the demo did not write, or a
            dataset of other settings without ``--force``.
    """
    if not osp.isdir(data_dir) or not os.listdir(data_dir):
        return False
    meta_file = osp.join(data_dir, 'meta.json')
    ours = osp.exists(osp.join(data_dir, DATA_MARKER))
    if not ours:
        raise DemoError(f'{data_dir} holds files that the demo did not write (no '
                        f'{DATA_MARKER}); the demo neither reuses nor deletes them. Move them '
                        'away, or choose another --work-dir.')
    meta = None
    if osp.exists(meta_file):
        with open(meta_file) as f:
            meta = json.load(f)
    same = meta is not None and all(meta.get(k) == v for k, v in wanted.items())
    if same and not force:
        return True
    if meta is not None and not same and not force:
        differences = {k: meta.get(k) for k, v in wanted.items() if meta.get(k) != v}
        raise DemoError(f'{data_dir} holds a dataset of other settings ({differences}; wanted '
                        f'{ {k: wanted[k] for k in differences} }). Write it again with '
                        "--force (make demo DEMO_ARGS=--force), or choose another "
                        '--work-dir.')
    # --force, or a write that was interrupted (no meta.json): start again.
    shutil.rmtree(data_dir)
    return False


def make_data(args: argparse.Namespace, data_dir: str, stages: Stages) -> None:
    from ms_plugin.datasets.synthetic_motion import write_dataset
    wanted = wanted_meta(args)
    tag = stages.start('data', data_dir)
    if prepare_data_dir(data_dir, wanted, args.force):
        stages.say('    reusing the dataset already there (--force writes it again)')
        return
    os.makedirs(data_dir)
    open(osp.join(data_dir, DATA_MARKER), 'w').close()
    start = time.time()
    total = args.num_videos + args.val_videos
    bar = stages.bar(f'{tag} writing', total, 'video')

    def progress(split: str, done: int, count: int) -> None:
        bar.update(1)

    write_dataset(data_dir, wanted['num_videos'], seed=args.seed, size=args.size,
                  num_frames=args.frames, spec=demo_spec(args), classes=demo_classes(),
                  layouts=('videos', ), progress=progress)
    bar.close()
    stages.say(f'    {args.num_videos} training and {args.val_videos} test videos of '
               f'{args.frames} frames, {args.size}x{args.size}, in {time.time() - start:.0f} s')


def data_options(data_dir: str, args: argparse.Namespace) -> List[str]:
    """``--cfg-options`` pointing the dataloaders at ``data_dir`` (and the demo's scale)."""
    options = []
    for loader, split in (('train_dataloader', 'train'), ('val_dataloader', 'val'),
                          ('test_dataloader', 'val')):
        options += [
            f'{loader}.dataset.ann_file={data_dir}/{split}_list_videos.txt',
            f'{loader}.dataset.data_prefix.video={data_dir}/videos'
        ]
    return options


def model_options(args: argparse.Namespace, key: str = 'msnet') -> List[str]:
    """``--cfg-options`` for clips of ``args.frames`` frames."""
    options = []
    if key != 'tsn':  # TSN's 2D ResNet and head take any number of frames
        options += [f'model.backbone.num_segments={args.frames}',
                    f'model.cls_head.num_segments={args.frames}']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options.append(f'{loader}.dataset.pipeline.1.num_clips={args.frames}')
    return options


def metric(text: str, name: str) -> float:
    """The last value of ``name`` (e.g. ``acc/top1``) in an MMEngine log."""
    values = re.findall(re.escape(name) + r': ([0-9.]+)', text)
    if not values:
        raise DemoError(f'no {name} in the output of tools/test.py.')
    return float(values[-1])


def config_epochs(config: str) -> int:
    """The training epochs ``config`` sets (``train_cfg.max_epochs``)."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, config), import_custom_modules=False)
    return int(cfg.train_cfg.max_epochs)


def complexity(config: str, args: argparse.Namespace, log_file: str,
               env: Dict[str, str], key: str = 'msnet') -> Dict[str, float]:
    """Parameters and FLOPs (multiply-adds) of one clip, of the model as trained."""
    # N T C H W: one clip of args.frames frames
    text = run([sys.executable, 'tools/analysis/get_flops.py', config, '--shape', '1',
                str(args.frames), '3', str(args.size), str(args.size), '--cfg-options'] +
               model_options(args, key) + args.cfg_options, log_file, env)
    flops = re.search(r'FLOPs: ([0-9.]+) G', text)
    params = re.search(r'params: ([0-9.]+) M', text)
    if not (flops and params):
        raise DemoError(f'cannot read FLOPs and params in {log_file}.')
    return dict(gflops=float(flops.group(1)), mparams=float(params.group(1)))


def train_and_test(key: str, args: argparse.Namespace, data_dir: str, env: Dict[str, str],
                   stages: Stages) -> Dict[str, float]:
    name, config = MODELS[key]
    work_dir = osp.join(args.work_dir, key)
    os.makedirs(work_dir, exist_ok=True)
    tag = stages.start(name, f'{config}; logs in {work_dir}/')
    epochs = args.epochs or config_epochs(config)
    options = data_options(data_dir, args) + model_options(args, key) + [
        'default_hooks.logger.interval=1']
    if args.epochs:
        options += [f'train_cfg.max_epochs={epochs}', f'train_cfg.val_begin={epochs + 1}',
                    f'param_scheduler.1.T_max={epochs}', f'param_scheduler.1.end={epochs}',
                    f'default_hooks.checkpoint.interval={epochs}']
    else:
        # No validation during training: the test below evaluates the same weights.
        options.append(f'train_cfg.val_begin={epochs + 1}')
    options += args.cfg_options  # the user's last: they override the demo's
    start = time.time()
    run([sys.executable, 'tools/train.py', config, '--work-dir', work_dir, '--seed',
         str(args.seed), '--cfg-options'] + options, osp.join(work_dir, 'train.log'), env,
        LogProgress(stages, tag, epochs))
    train_minutes = (time.time() - start) / 60
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    text = run([sys.executable, 'tools/test.py', config, checkpoint, '--work-dir',
                osp.join(work_dir, 'test'), '--cfg-options'] + options,
               osp.join(work_dir, 'test.log'), env, LogProgress(stages, tag))
    result = dict(name=name, checkpoint=checkpoint, train_minutes=train_minutes,
                  top1=metric(text, 'acc/top1'), top5=metric(text, 'acc/top5'))
    result.update(complexity(config, args, osp.join(work_dir, 'flops.log'), env, key))
    # With 5 classes top-5 is always 100 %: results.json keeps it, the console does not.
    stages.say(f'    {name}: top-1 {100 * result["top1"]:.1f} % on {args.val_videos} test videos '
               f'({train_minutes:.1f} min training)')
    return result


def table(results: List[Dict[str, float]], args: argparse.Namespace, epochs: int) -> str:
    classes = demo_classes()
    chance = 100 / len(classes)
    lines = [
        f'Synthetic motion, {len(classes)} classes (chance {chance:.0f}%), '
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


def check_motion(maps_file: str, video: str, label: int, args: argparse.Namespace) -> dict:
    """Compare the saved motion maps of test ``video`` with where its object really is."""
    import numpy as np

    from ms_plugin.datasets.synthetic_motion import make_clip_masks
    from ms_plugin.visualization import translation_agreement
    saved = np.load(maps_file)
    motion = saved['motion']
    index = int(re.search(r'(\d+)\.mp4$', video).group(1))
    masks = make_clip_masks(label, args.seed, 'val', index, args.size, args.frames,
                            spec=demo_spec(args), classes=demo_classes())
    import torch
    check = translation_agreement(torch.from_numpy(motion), masks, (1, 0),
                                  int(saved['max_displacement']))
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


def visualize(result: Dict[str, float], args: argparse.Namespace, data_dir: str,
              env: Dict[str, str], stages: Stages) -> dict:
    """The trained MSNet's motion maps of the first test clip moving right, and their check."""
    label = demo_classes().index('moving right')
    with open(osp.join(data_dir, 'val_list_videos.txt')) as f:
        video = next(line.split()[0] for line in f if int(line.split()[1]) == label)
    out = osp.join(args.work_dir, 'motion.png')
    maps_file = osp.join(args.work_dir, 'motion.npz')
    stages.start('motion', f"the trained MSNet's motion maps of test video {video} "
                 '(moving right)')
    # Full colour at a quarter above the data's fastest translation, so that
    # the object's true motion, not the largest outlier, sets the colour scale.
    saturation = 1.25 * demo_spec(args).speed[1] * args.size / RES3_STRIDE
    run([sys.executable, 'tools/visualize_motion.py', MODELS['msnet'][1],
         osp.join(data_dir, 'videos', video), '--checkpoint', result['checkpoint'], '--out',
         out, '--save-motion', maps_file, '--max-magnitude', f'{saturation:.1f}',
         '--cfg-options'] + model_options(args) + args.cfg_options,
        osp.join(args.work_dir, 'motion.log'), env)
    check = check_motion(maps_file, video, label, args)
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
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), PYTHONUNBUFFERED='1',
               PYTHONWARNINGS='ignore')
    # The checkout's own code, whichever copy of the plugin the venv points at.
    env['PYTHONPATH'] = os.pathsep.join([ROOT] + ([env['PYTHONPATH']]
                                                  if env.get('PYTHONPATH') else []))
    try:
        check_work_dir(args.work_dir, needed_megabytes(args))
        stages.say(f'MotionSqueeze demo: {len(names)} stages; everything (data, full logs, '
                   f'checkpoints, results) goes to {args.work_dir}/')
        make_data(args, data_dir, stages)
        results = {}
        for key in args.models:
            results[key] = train_and_test(key, args, data_dir, env, stages)
        epochs = args.epochs or config_epochs(MODELS[args.models[0]][1])
        text = table(list(results.values()), args, epochs)
        minutes = (time.time() - start) / 60
        text += f'\n\n`make demo` total: {minutes:.1f} min (data, training, tests).'
        with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
            f.write(text + '\n')
        with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
            json.dump(dict(results=results, minutes=minutes, args=vars(args)), f, indent=1)
        stages.say('\n' + text + '\n')
        if 'msnet' in results:
            visualize(results['msnet'], args, data_dir, env, stages)
    except DemoError as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    stages.say(f'Done in {(time.time() - start) / 60:.1f} min; the table is in '
               f'{args.work_dir}/results.md, the full logs in {args.work_dir}/<model>/.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
