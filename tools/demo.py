#!/usr/bin/env python
"""The quick start (``make demo``): MSNet, TSM and TSN on synthetic motion, on a CPU.

1. Writes the synthetic motion dataset (``tools/data/synthetic_motion.py``:
   10 classes that differ only in how a textured object moves over a textured
   background) into ``WORK_DIR/data``, unless the same data is already there.
2. Trains each model of ``configs/synthetic/`` from scratch with
   ``tools/train.py`` and tests its last checkpoint with ``tools/test.py``
   (subprocesses; their log lines stream through, the full logs stay in
   ``WORK_DIR/<model>/``).
3. Counts parameters and FLOPs with ``tools/analysis/get_flops.py``.
4. Prints a table (top-1, top-5, parameters, FLOPs, training time), also
   written to ``WORK_DIR/results.md``.
5. Draws MSNet's motion maps on one validation clip with
   ``tools/visualize_motion.py`` (``WORK_DIR/motion.png``).

Examples::

    python tools/demo.py                       # what `make demo` runs
    python tools/demo.py --models tsm msnet --seed 1 --work-dir work_dirs/demo_seed1
"""
import argparse
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from ms_plugin.datasets.synthetic_motion import CLASSES  # noqa: E402

MODELS = {
    'tsn': ('TSN-R18', 'configs/synthetic/tsn_r18_synthetic.py'),
    'tsm': ('TSM-R18', 'configs/synthetic/tsm_r18_synthetic.py'),
    'msnet': ('MSNet-R18', 'configs/synthetic/msnet_r18_synthetic.py'),
}
# Log lines worth showing while a subprocess runs (the rest goes to its log).
PROGRESS = re.compile(r'Epoch\(|Error|error:|Traceback|Saving checkpoint|'
                      r'^Wrote|^Saved|videos \(')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate synthetic motion data, train and test MSNet, '
        'TSM and TSN (R18, from scratch) on it, and compare them.')
    parser.add_argument('--work-dir', default='work_dirs/demo',
                        help='where data, logs, checkpoints and results go '
                        '(default: work_dirs/demo)')
    parser.add_argument('--models', nargs='+', choices=list(MODELS),
                        default=list(MODELS),
                        help='models to run, in this order (default: all)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the data and of the training (default: 0)')
    parser.add_argument('--num-videos', type=int, default=480,
                        help='training videos (default: 480)')
    parser.add_argument('--val-videos', type=int, default=200,
                        help='validation (= test) videos (default: 200)')
    parser.add_argument('--size', type=int, default=64,
                        help='frame side in pixels (default: 64)')
    parser.add_argument('--threads', type=int,
                        default=int(os.environ.get('OMP_NUM_THREADS', 2)),
                        help='CPU threads of each training (default: '
                        '$OMP_NUM_THREADS, else 2)')
    return parser.parse_args(argv)


def run(cmd: List[str], log_file: str, env: Dict[str, str]) -> str:
    """Run ``cmd`` from the repository root; stream progress lines, keep all.

    Returns:
        str: Everything the command printed.

    Raises:
        SystemExit: If the command fails (its last lines are shown).
    """
    print('$ ' + ' '.join(cmd), flush=True)
    lines = []
    with open(log_file, 'w') as log, subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
        for line in proc.stdout:
            log.write(line)
            lines.append(line)
            if PROGRESS.search(line):
                # Drop MMEngine's date and logger prefix; keep the message.
                print('    ' + line.split(' - mmengine - INFO - ')[-1].rstrip(),
                      flush=True)
    if proc.returncode != 0:
        tail = ''.join(lines[-30:])
        raise SystemExit(f'{tail}\nThe command above failed (exit '
                         f'{proc.returncode}); its full output is in '
                         f'{log_file}.')
    return ''.join(lines)


def make_data(args: argparse.Namespace, data_dir: str,
              env: Dict[str, str]) -> None:
    """Generate the dataset unless ``data_dir`` already holds the same one."""
    wanted = dict(num_videos=dict(train=args.num_videos, val=args.val_videos),
                  seed=args.seed, size=args.size)
    meta_file = osp.join(data_dir, 'meta.json')
    if osp.exists(meta_file):
        with open(meta_file) as f:
            meta = json.load(f)
        if all(meta.get(k) == v for k, v in wanted.items()):
            print(f'[data] {data_dir} already holds this dataset; skipped.',
                  flush=True)
            return
        sys.exit(f'{data_dir} holds a different dataset ({meta_file}); '
                 'delete it or choose another --work-dir.')
    os.makedirs(osp.dirname(data_dir) or '.', exist_ok=True)
    run([sys.executable, 'tools/data/synthetic_motion.py', data_dir,
         '--num-videos', str(args.num_videos), '--val-videos',
         str(args.val_videos), '--seed', str(args.seed), '--size',
         str(args.size), '--layouts', 'videos'],
        osp.join(osp.dirname(data_dir), 'data.log'), env)


def data_options(data_dir: str) -> List[str]:
    """``--cfg-options`` pointing the three dataloaders at ``data_dir``."""
    options = []
    for loader, split in (('train_dataloader', 'train'),
                          ('val_dataloader', 'val'),
                          ('test_dataloader', 'val')):
        options += [
            f'{loader}.dataset.ann_file={data_dir}/{split}_list_videos.txt',
            f'{loader}.dataset.data_prefix.video={data_dir}/videos'
        ]
    return options


def metric(text: str, name: str) -> float:
    """The last value of ``name`` (e.g. ``acc/top1``) in an MMEngine log."""
    values = re.findall(re.escape(name) + r': ([0-9.]+)', text)
    if not values:
        raise SystemExit(f'No {name} in the output of tools/test.py.')
    return float(values[-1])


def complexity(config: str, size: int, log_file: str,
               env: Dict[str, str]) -> Dict[str, float]:
    """Parameters and FLOPs (multiply-adds) of one 8-frame clip."""
    text = run([sys.executable, 'tools/analysis/get_flops.py', config,
                '--shape', str(size), str(size)], log_file, env)
    flops = re.search(r'FLOPs: ([0-9.]+) G', text)
    params = re.search(r'params: ([0-9.]+) M', text)
    if not (flops and params):
        raise SystemExit(f'Cannot read FLOPs and params in {log_file}.')
    return dict(gflops=float(flops.group(1)), mparams=float(params.group(1)))


def train_and_test(key: str, args: argparse.Namespace, data_dir: str,
                   env: Dict[str, str]) -> Dict[str, float]:
    name, config = MODELS[key]
    work_dir = osp.join(args.work_dir, key)
    os.makedirs(work_dir, exist_ok=True)
    options = ['--cfg-options'] + data_options(data_dir)
    print(f'\n[{name}] training ({config})', flush=True)
    start = time.time()
    run([sys.executable, 'tools/train.py', config, '--work-dir', work_dir,
         '--seed', str(args.seed)] + options,
        osp.join(work_dir, 'train.log'), env)
    train_minutes = (time.time() - start) / 60
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    print(f'[{name}] testing {checkpoint}', flush=True)
    text = run([sys.executable, 'tools/test.py', config, checkpoint,
                '--work-dir', osp.join(work_dir, 'test')] + options,
               osp.join(work_dir, 'test.log'), env)
    result = dict(name=name, checkpoint=checkpoint, train_minutes=train_minutes,
                  top1=metric(text, 'acc/top1'), top5=metric(text, 'acc/top5'))
    result.update(complexity(config, args.size,
                             osp.join(work_dir, 'flops.log'), env))
    print(f'[{name}] top-1 {100 * result["top1"]:.1f}  top-5 '
          f'{100 * result["top5"]:.1f}  ({train_minutes:.1f} min training)',
          flush=True)
    return result


def table(results: List[Dict[str, float]], args: argparse.Namespace) -> str:
    chance = 100 / len(CLASSES)
    lines = [
        f'Synthetic motion, {len(CLASSES)} classes (chance {chance:.0f}%), '
        f'{args.num_videos} training / {args.val_videos} test videos, '
        f'8 frames of {args.size}x{args.size}, R18 from scratch, seed '
        f'{args.seed}, {args.threads} CPU threads',
        '',
        '| model | top-1 (%) | top-5 (%) | params (M) | GFLOPs per clip | '
        'training (min) |',
        '| --- | --- | --- | --- | --- | --- |',
    ]
    for r in results:
        lines.append(f'| {r["name"]} | {100 * r["top1"]:.1f} | '
                     f'{100 * r["top5"]:.1f} | {r["mparams"]:.2f} | '
                     f'{r["gflops"]:.3f} | {r["train_minutes"]:.1f} |')
    return '\n'.join(lines)


def visualize(results: Dict[str, Dict[str, float]], args: argparse.Namespace,
              data_dir: str, env: Dict[str, str]) -> None:
    """MSNet's motion maps on the first validation clip moving right."""
    tool = osp.join(ROOT, 'tools', 'visualize_motion.py')
    if 'msnet' not in results:
        return
    if not osp.exists(tool):
        print('[motion] tools/visualize_motion.py is missing; no figure.')
        return
    wanted = CLASSES.index('moving right')
    with open(osp.join(data_dir, 'val_list_videos.txt')) as f:
        video = next(line.split()[0] for line in f
                     if int(line.split()[1]) == wanted)
    out = osp.join(args.work_dir, 'motion.png')
    print(f'\n[motion] MSNet\'s motion maps of {video} (moving right)',
          flush=True)
    run([sys.executable, tool, MODELS['msnet'][1],
         osp.join(data_dir, 'videos', video), '--checkpoint',
         results['msnet']['checkpoint'], '--out', out],
        osp.join(args.work_dir, 'motion.log'), env)
    print(f'[motion] wrote {out}', flush=True)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    start = time.time()
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
               PYTHONWARNINGS='ignore', PYTHONUNBUFFERED='1')
    args.work_dir = osp.abspath(args.work_dir)
    data_dir = osp.join(args.work_dir, 'data')
    os.makedirs(args.work_dir, exist_ok=True)
    print(f'[data] synthetic motion data in {data_dir}', flush=True)
    make_data(args, data_dir, env)
    results = {}
    for key in args.models:
        results[key] = train_and_test(key, args, data_dir, env)
    text = table(list(results.values()), args)
    minutes = (time.time() - start) / 60
    text += f'\n\n`make demo` total: {minutes:.1f} min (data, training, tests).'
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(text + '\n')
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    print('\n' + text, flush=True)
    visualize(results, args, data_dir, env)
    print(f'\nDone in {(time.time() - start) / 60:.1f} min; results in '
          f'{args.work_dir}/results.md', flush=True)


if __name__ == '__main__':
    main()
