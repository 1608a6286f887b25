#!/usr/bin/env python
"""Write the synthetic motion dataset (see tools/data/synthetic/synthetic_writer.py).

Examples::

    python tools/data/synthetic_motion.py data/synthetic_motion \
        --num-videos 800 --val-videos 200 --size 64 --frames 8 --seed 0
    # the demo's data (what `make demo` writes into work_dirs/demo/data)
    python tools/data/synthetic_motion.py data/synthetic_motion \
        --num-videos 640 --val-videos 200 --size 96 --class-set translation \
        --radius 0.25 0.35 --speed 0.2 0.28 --layouts videos
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'synthetic'))  # the generator
from ms_plugin.cli import add_seed, check_output_dir, run_tool  # noqa: E402
from ms_plugin.utils.errors import InputError  # noqa: E402
from synthetic_writer import CLASS_SETS, CLASSES, MotionSpec, write_dataset  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    defaults = MotionSpec()
    parser = argparse.ArgumentParser(
        description='Write a Something-Something-like dataset whose classes '
        'differ only in motion, as mp4 videos and as JPEG frames.')
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument('--num-videos', type=int, default=800,
                        help='training videos (default: 800)')
    parser.add_argument('--val-videos', type=int, default=None,
                        help='validation videos (default: a quarter of '
                        '--num-videos)')
    add_seed(parser, 'the videos: the same seed writes the same files')
    parser.add_argument('--size', type=int, default=64,
                        help='frame side in pixels (default: 64)')
    parser.add_argument('--frames', type=int, default=8,
                        help='frames per video (default: 8)')
    parser.add_argument('--speed', type=float, nargs=2,
                        default=defaults.speed, metavar=('MIN', 'MAX'),
                        help='translation speed range in frame sides per '
                        f'frame (default: {defaults.speed})')
    parser.add_argument('--zoom', type=float, nargs=2, default=defaults.zoom,
                        metavar=('MIN', 'MAX'),
                        help='per-frame size factor range of growing and '
                        f'shrinking objects (default: {defaults.zoom})')
    parser.add_argument('--spin', type=float, nargs=2, default=defaults.spin,
                        metavar=('MIN', 'MAX'),
                        help='rotation speed range in degrees per frame '
                        f'(default: {defaults.spin})')
    parser.add_argument('--radius', type=float, nargs=2,
                        default=defaults.radius, metavar=('MIN', 'MAX'),
                        help='object radius range in frame sides '
                        f'(default: {defaults.radius})')
    parser.add_argument('--layouts', nargs='+',
                        choices=('videos', 'rawframes'),
                        default=('videos', 'rawframes'),
                        help='what to write (default: both)')
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument('--class-set', choices=sorted(CLASS_SETS), default='all',
                        help=f"a named set of classes: 'all' ({len(CLASSES)} classes), "
                        "or 'translation' (5: staying still and moving "
                        'left, right, up, down: the classes of the demo and '
                        'of its configs, configs/synthetic/{tsn,tsm,msnet}_'
                        'r18_synthetic.py) (default: all)')
    chosen.add_argument('--classes', nargs='+', default=None, metavar='NAME',
                        help='a subset of the classes, in label order '
                        f'(default: all {len(CLASSES)}: {", ".join(CLASSES)})')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    check_output_dir(args.out_dir)
    classes = tuple(args.classes) if args.classes else CLASS_SETS[args.class_set]
    bad = [c for c in classes if c not in CLASSES]
    if bad:
        raise InputError(f'unknown class(es) {bad}; choose from {list(CLASSES)}.')
    val = args.val_videos if args.val_videos is not None else max(
        1, args.num_videos // 4)
    spec = MotionSpec(speed=tuple(args.speed), zoom=tuple(args.zoom),
                      spin=tuple(args.spin), radius=tuple(args.radius))
    start = time.time()

    def progress(split: str, done: int, total: int) -> None:
        if done == total or done % 100 == 0:
            print(f'  {split}: {done}/{total} videos '
                  f'({time.time() - start:.0f} s)', flush=True)

    write_dataset(args.out_dir, dict(train=args.num_videos, val=val),
                  seed=args.seed, size=args.size, num_frames=args.frames,
                  spec=spec, classes=classes, layouts=args.layouts,
                  progress=progress)
    print(f'Wrote {args.num_videos} training and {val} validation videos '
          f'({len(classes)} classes) to {args.out_dir} in '
          f'{time.time() - start:.1f} s', flush=True)


if __name__ == '__main__':
    sys.exit(run_tool(main))
