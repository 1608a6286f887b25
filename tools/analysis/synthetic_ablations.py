#!/usr/bin/env python
"""The paper's ablations (``configs/ablations/``) on synthetic motion at R18 sizes: one table.

Each config of ``configs/ablations/`` is ``configs/msnet_r50_sthv1.py`` with
the MS arguments of one ablation row changed (``ms_stages``, ``ms_cfg``).
That change (:func:`row_options`, read from the two configs, nothing typed
twice) goes onto ``configs/synthetic/msnet_r18_synthetic.py``: MSNet-R18
from scratch on the synthetic motion data of ``make demo`` (5 classes that
differ only in how an object moves). Every row, and ``paper`` (the paper's
module, nothing changed), trains from the same seed on the same data with the
same schedule (that config's, for one epoch by default), without validation
or checkpoints, and is then tested on the test videos by the same Runner; its
parameters and FLOPs are counted for one clip (``ms_plugin.apis.count_flops``,
as ``tools/analysis/get_flops.py``).

The data is written into ``WORK_DIR/data`` (or reused when it is there with
the same settings). MMEngine's log of each row goes to
``WORK_DIR/<row>/run.log`` and its result to ``WORK_DIR/<row>/result.json``,
which a later run with the same options reuses instead of training the row
again (an interrupted run goes on where it stopped). The console gets one
line per row, then the table (also in ``WORK_DIR/results.md``;
``results.json`` holds each row's ``--cfg-options`` too, so that
``tools/train.py`` and ``tools/test.py`` can repeat a row).

Examples::

    python tools/analysis/synthetic_ablations.py  # every row (docs/ablations.md)
    python tools/analysis/synthetic_ablations.py --rows paper argmax d1
"""
import ms_plugin  # noqa: F401,I001  (first: the stack fixes, the plugin's models registered)
import argparse
import contextlib
import glob
import json
import os
import os.path as osp
import sys
import time
import warnings
from typing import Dict, Iterator, List, Optional, Union

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from ms_plugin.apis import count_flops
from ms_plugin.cli import add_cfg_options, add_seed, check_output_dir, run_tool
from ms_plugin.engine.runner import merge_train_args
from ms_plugin.utils.errors import InputError

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'data', 'synthetic'))  # the synthetic data generator
from synthetic_writer import TRANSLATION_CLASSES, MotionSpec, write_dataset  # noqa: E402
ABLATION_DIR = osp.join(ROOT, 'configs', 'ablations')
PAPER_BASE = osp.join(ROOT, 'configs', 'msnet_r50_sthv1.py')
SYNTHETIC_BASE = osp.join(ROOT, 'configs', 'synthetic', 'msnet_r18_synthetic.py')
ROW_PREFIX = 'msnet_r50_sthv1_'  # an ablation config is <prefix><row>.py
# What a row may change: the MS arguments of the backbone, which mean the same
# on the R18 base. Anything else (data, schedule, head) would not carry over.
ROW_KEYS = ('model.backbone.ms_stages', 'model.backbone.ms_cfg.')
# The data of `make demo` (tools/demo/demo_data.py): objects of 0.25 to 0.35
# frame sides moving 0.2 to 0.28 frame sides a frame.
SPEC = MotionSpec(speed=(0.2, 0.28), radius=(0.25, 0.35))
NUM_FRAMES = 8  # the synthetic configs' num_segments: every frame of a video
# One epoch (160 updates of 4 clips), half the demo's two: from scratch the directions
# take updates more than clips (docs/demo.md: 160 updates of 8 clips gave 90 % top-1), and
# 14 rows of 2 epochs would take about 40 minutes on 2 quiet cores.
EPOCHS = 1


def flatten(tree: dict, prefix: str = '') -> Dict[str, object]:
    """``{'a': {'b': 1}}`` -> ``{'a.b': 1}``; lists and tuples are values."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f'{prefix}{key}.'))
        else:
            flat[f'{prefix}{key}'] = value
    return flat


def config_difference(config: Union[str, Config],
                      base: Union[str, Config] = PAPER_BASE) -> Dict[str, object]:
    """The keys in which ``config`` differs from ``base``, with ``config``'s values.

    Both are compared as loaded (``_base_`` files resolved), key by key, a
    nested key as one dotted name; a key only in ``base`` has the value None.
    """
    ours, theirs = (flatten((Config.fromfile(c) if isinstance(c, str) else c).to_dict())
                    for c in (config, base))
    return {key: ours.get(key) for key in sorted(set(ours) | set(theirs))
            if ours.get(key, KeyError) != theirs.get(key, KeyError)}


def row_options(config: Union[str, Config],
                base: Union[str, Config] = PAPER_BASE) -> Dict[str, object]:
    """The ``--cfg-options`` of an ablation row: how ``config`` differs from the paper's config.

    Raises:
        InputError: If it differs in anything but the backbone's MS arguments.
    """
    options = config_difference(config, base)
    others = [key for key in options if not key.startswith(ROW_KEYS)]
    if others or not options:
        name = config if isinstance(config, str) else config.filename
        raise InputError(
            f'{name} must differ from {osp.relpath(PAPER_BASE, ROOT)} in the backbone\'s '
            f'ms_stages or ms_cfg only (an ablation row); it differs in '
            f'{others or "nothing"}.')
    return options


def _order(options: Dict[str, object]) -> tuple:
    """Rows grouped by the argument they change; stages by count, then position."""
    return tuple(sorted(options)), [(len(value), value) if isinstance(value, tuple)
                                    else (0, str(value)) for _, value in sorted(options.items())]


def ablation_rows(names: Optional[List[str]] = None) -> Dict[str, Dict[str, object]]:
    """``{row: options}``: ``paper`` (no change) first, then each config of ``configs/ablations/``
    grouped by the argument it changes; ``names`` picks some (only those are read)."""
    paths = {osp.basename(path)[len(ROW_PREFIX):-3]: path
             for path in glob.glob(osp.join(ABLATION_DIR, ROW_PREFIX + '*.py'))}
    unknown = sorted(set(names or ()) - set(paths) - {'paper'})
    if unknown:
        raise InputError(f'unknown row(s) {unknown}; the rows are {["paper", *sorted(paths)]}.')
    base = Config.fromfile(PAPER_BASE)
    rows = {name: row_options(path, base) for name, path in paths.items()
            if names is None or name in names}
    rows = dict(sorted(rows.items(), key=lambda row: _order(row[1])))
    return {'paper': {}, **rows} if names is None or 'paper' in names else rows


def describe(options: Dict[str, object]) -> str:
    """``{'model.backbone.ms_cfg.soft_argmax': 'hard'}`` -> ``soft_argmax='hard'``."""
    return ', '.join(f'{key.split(".")[-1]}={value!r}' for key, value in options.items()) or '-'


def prepare_data(data_dir: str, args: argparse.Namespace) -> bool:
    """Write the dataset into ``data_dir``, or reuse it; True if reused.

    Raises:
        InputError: If ``data_dir`` holds anything else.
    """
    wanted = dict(num_videos=dict(train=args.num_videos, val=args.val_videos), seed=args.seed,
                  size=args.size, num_frames=NUM_FRAMES, spec=SPEC.__dict__,
                  classes=TRANSLATION_CLASSES)
    wanted = json.loads(json.dumps(wanted))  # as meta.json holds it
    meta_file = osp.join(data_dir, 'meta.json')
    if osp.isfile(meta_file):
        with open(meta_file) as f:
            meta = json.load(f)
        if all(meta.get(key) == value for key, value in wanted.items()):
            return True
    if osp.isdir(data_dir) and os.listdir(data_dir):
        raise InputError(f'{data_dir} holds other files than this dataset; move them away or '
                         'choose another --work-dir.')
    write_dataset(data_dir, wanted['num_videos'], seed=args.seed, size=args.size,
                  num_frames=NUM_FRAMES, spec=SPEC, classes=TRANSLATION_CLASSES,
                  layouts=('videos', ))
    return False


def run_options(data_dir: str, epochs: int) -> Dict[str, object]:
    """What every row's run changes in the synthetic config: the data and its loading, the
    epochs, no checkpoints (the Runner that trains a row tests it)."""
    options = {'default_hooks.checkpoint': None, 'default_hooks.logger.interval': 10}
    for loader, split in (('train_dataloader', 'train'), ('test_dataloader', 'val')):
        options[f'{loader}.dataset.ann_file'] = f'{data_dir}/{split}_list_videos.txt'
        options[f'{loader}.dataset.data_prefix.video'] = f'{data_dir}/videos'
        # Frames decoded in this process: a persistent loader worker took 5 s to stop at the
        # end of each run, and a 96x96 clip decodes in a few ms. Without workers the
        # annotations need no serialising (a gc.collect() per dataset).
        options.update({f'{loader}.num_workers': 0, f'{loader}.dataset.serialize_data': False})
    options.update({'train_cfg.max_epochs': epochs, 'param_scheduler.1.T_max': epochs,
                    'param_scheduler.1.end': epochs})
    return options


def finished_row(path: str, wanted: dict) -> Optional[dict]:
    """The result a row's earlier run left in ``path``, if it ran with ``wanted``'s options
    and seed; else None."""
    if not osp.isfile(path):
        return None
    with open(path) as f:
        result = json.load(f)
    same = all(result.get(key) == value for key, value in json.loads(json.dumps(wanted)).items())
    return result if same else None


@contextlib.contextmanager
def logged_to(path: str, experiment: str) -> Iterator[None]:
    """What a run prints (MMEngine's console log, warnings) goes to ``path``; its logger's
    handlers are closed afterwards."""
    with open(path, 'w') as log, contextlib.redirect_stdout(log), \
            contextlib.redirect_stderr(log):
        try:
            yield
        finally:
            logger = MMLogger.get_instance(experiment)
            for handler in list(logger.handlers):
                handler.close()
                logger.removeHandler(handler)


def train_and_test(options: Dict[str, object], work_dir: str, seed: int) -> Dict[str, float]:
    """Train the synthetic base with ``options`` from ``seed``, then test it, in one Runner.

    Returns:
        dict: ``top1`` (a fraction) and ``train_minutes``.
    """
    cfg = merge_train_args(Config.fromfile(SYNTHETIC_BASE), work_dir=work_dir, seed=seed,
                           no_validate=True, cfg_options=dict(options))
    cfg.experiment_name = f'ablation_{osp.basename(work_dir)}_{time.time_ns()}'
    with logged_to(osp.join(work_dir, 'run.log'), cfg.experiment_name):
        runner = Runner.from_cfg(cfg)
        start = time.time()
        runner.train()
        minutes = (time.time() - start) / 60
        metrics = runner.test()
    return dict(top1=float(metrics['acc/top1']), train_minutes=minutes)


def complexity(options: Dict[str, object], size: int) -> Dict[str, float]:
    """Parameters (M) and GFLOPs (multiply-adds) of one clip of ``NUM_FRAMES`` frames."""
    counted = count_flops(SYNTHETIC_BASE, (1, NUM_FRAMES, 3, size, size), dict(options))
    return dict(mparams=counted['params'] / 1e6, gflops=counted['flops'] / 1e9)


def table(results: Dict[str, dict], args: argparse.Namespace, epochs: int) -> str:
    """The results as a Markdown table, under a line that says how they were made."""
    lines = [
        f'Synthetic motion, {len(TRANSLATION_CLASSES)} classes (chance '
        f'{100 / len(TRANSLATION_CLASSES):.0f}%), {args.num_videos} training / '
        f'{args.val_videos} test videos, {NUM_FRAMES} frames of {args.size}x{args.size}, '
        f'MSNet-R18 from scratch, {epochs} epochs, seed {args.seed}, {args.threads} CPU threads'
        + (f', {args.cfg_options}' if args.cfg_options else ''), '',
        '| row | change | top-1 (%) | params (M) | GFLOPs per clip | training (min) |',
        '| --- | --- | --- | --- | --- | --- |'
    ]
    for name, r in results.items():
        lines.append(f'| {name} | {describe(r["options"])} | {100 * r["top1"]:.1f} | '
                     f'{r["mparams"]:.3f} | {r["gflops"]:.3f} | {r["train_minutes"]:.1f} |')
    return '\n'.join(lines)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train and test every ablation row of configs/ablations/ at R18 sizes on '
        'synthetic motion, from the same seed, and print one table.')
    parser.add_argument('--work-dir', default='work_dirs/synthetic_ablations',
                        help='data, logs and results (default: work_dirs/synthetic_ablations)')
    parser.add_argument('--rows', nargs='+', metavar='ROW',
                        help='rows to run (default: all): paper, or a config name of '
                        f'configs/ablations/ without {ROW_PREFIX} and .py')
    add_seed(parser, 'the data and of every training')
    parser.add_argument('--num-videos', type=int, default=640,
                        help='training videos (default: 640, as make demo)')
    parser.add_argument('--val-videos', type=int, default=200,
                        help='test videos (default: 200)')
    parser.add_argument('--size', type=int, default=96,
                        help='frame side in pixels (default: 96: res3 maps of 12x12)')
    parser.add_argument('--epochs', type=int, default=EPOCHS,
                        help=f'training epochs (default: {EPOCHS})')
    parser.add_argument('--threads', type=int,
                        default=int(os.environ.get('OMP_NUM_THREADS', 2)),
                        help='CPU threads (default: $OMP_NUM_THREADS, else 2)')
    add_cfg_options(parser, default={})
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    start = time.time()
    work_dir = osp.abspath(args.work_dir)
    check_output_dir(work_dir, '--work-dir')
    rows = ablation_rows(args.rows)
    torch.set_num_threads(args.threads)
    warnings.simplefilter('ignore')  # as the tools' runs with PYTHONWARNINGS=ignore
    data_dir = osp.join(work_dir, 'data')
    reused = prepare_data(data_dir, args)
    print(f'{"reusing" if reused else "wrote"} the data in {data_dir}; {len(rows)} rows, '
          f'logs in {work_dir}/<row>/run.log', flush=True)
    common = run_options(data_dir, args.epochs)
    results = {}
    for name, row in rows.items():
        row_dir = osp.join(work_dir, name)
        os.makedirs(row_dir, exist_ok=True)
        options = {**common, **row, **args.cfg_options}  # the user's last
        result = dict(options=row, cfg_options=options, seed=args.seed)
        done = finished_row(osp.join(row_dir, 'result.json'), result)
        if done is None:
            result.update(train_and_test(options, row_dir, args.seed))
            result.update(complexity({**row, **args.cfg_options}, args.size))
            with open(osp.join(row_dir, 'result.json'), 'w') as f:
                json.dump(result, f, indent=1)
        results[name] = result = done or result
        print(f'{name} ({describe(row)}): top-1 {100 * result["top1"]:.1f} %, '
              f'{result["train_minutes"]:.1f} min training'
              + (' (reused: its result.json)' if done else ''), flush=True)
    text = table(results, args, args.epochs)
    minutes = (time.time() - start) / 60
    text += f'\n\nTotal: {minutes:.1f} min (data, training, tests, FLOP counts).'
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(text + '\n')
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(dict(results=results, minutes=minutes, args=vars(args)), f, indent=1)
    print('\n' + text)
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
