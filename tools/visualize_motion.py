"""Draw the frames, displacement maps and confidence maps of a model's MotionSqueeze module
on one clip: what it sees (the paper's Figures 5 and 6).

The clip is sampled as the config's test pipeline samples it, reduced to one
view (``twice_sample`` off, one clip of ``num_segments`` frames, ``CenterCrop``
instead of ``ThreeCrop``/``TenCrop``). The figure has a column per frame pair
and three rows: the frame, the displacement in optical-flow colours (with a
colour wheel) and the confidence (with a colour bar); see
:mod:`ms_plugin.visualization.motion` for the conventions and scaling.

INPUT is a video file (read with decord) or a folder of frames (images, in
name order, e.g. ``img_00001.jpg``, as ``RawframeDataset`` reads them). The
suffix of ``--out`` picks the output: ``.png``/``.jpg`` one figure,
``.gif``/``.mp4``/``.avi`` an animation with one figure per frame pair.

Examples::

    python tools/visualize_motion.py configs/synthetic/msnet_r18_synthetic.py \\
        clip.mp4 --checkpoint work_dirs/msnet/epoch_6.pth --out motion.png
    python tools/visualize_motion.py CONFIG frames_dir/ --out motion.gif   # random init
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

import torch

import ms_plugin  # noqa: F401  (the stack fixes, and the plugin's models registered)
from ms_plugin.apis import build_recognizer, save_motion, video_motion, write_motion
from ms_plugin.cli import (add_cfg_options, add_seed, check_config, check_input,
                           check_output_file, run_tool, tool_parser)
from ms_plugin.utils.errors import InputError
from ms_plugin.visualization import ANIMATION_SUFFIXES, IMAGE_SUFFIXES

OUTPUT_SUFFIXES = IMAGE_SUFFIXES + ANIMATION_SUFFIXES
RANDOM_INIT_NOTE = 'random initialisation (no --checkpoint): these maps are not learned'


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = tool_parser(__doc__)
    parser.add_argument('config', help='MMAction2 config of a model with a MotionSqueeze module')
    parser.add_argument('input', help='a video file or a folder of frames (img_00001.jpg ...)')
    parser.add_argument('--checkpoint', help='weights to load. Without it the model keeps its '
                        'random initialisation, and the figure says so')
    parser.add_argument('--out', required=True,
                        help=f'output file; its suffix ({", ".join(OUTPUT_SUFFIXES)}) picks a '
                        'figure or an animation')
    parser.add_argument('--module', help='name of the MotionSqueeze module to show (e.g. '
                        'backbone.ms_layer2). Defaults to the first one')
    parser.add_argument('--device', default='cpu', help='torch device. Defaults to cpu')
    parser.add_argument('--fps', type=float, default=2.0,
                        help='frames per second of an animation. Defaults to 2')
    parser.add_argument('--max-magnitude', type=float, default=None,
                        help='displacement (feature cells) drawn at full colour saturation. '
                        'Defaults to the largest of the clip')
    parser.add_argument('--interpolation', choices=('nearest', 'bilinear'), default='nearest',
                        help='upsampling of the maps to the frame size. Defaults to nearest '
                        '(one block per feature cell)')
    add_seed(parser, 'the random initialisation (no checkpoint)')
    parser.add_argument('--save-motion', metavar='FILE.npz',
                        help='also save the drawn maps (motion [T, 3, h, w]: dx, dy in units '
                        'of max_displacement cells, confidence; max_displacement; frames) '
                        'with numpy.savez')
    add_cfg_options(parser)
    return parser.parse_args(argv)


def check_args(args: argparse.Namespace) -> None:
    """One-line errors for the paths and the output type, before any model is built."""
    check_config(args.config)
    check_input(args.input, 'input', folder_ok=True)
    check_input(args.checkpoint, 'checkpoint')
    if osp.splitext(args.out)[1].lower() not in OUTPUT_SUFFIXES:
        raise InputError(f'--out {args.out}: the suffix must be one of {OUTPUT_SUFFIXES}')
    check_output_file(args.out, '--out folder')
    if args.save_motion:
        check_output_file(args.save_motion, '--save-motion folder')


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    check_args(args)
    torch.manual_seed(args.seed)  # the random initialisation, without --checkpoint
    model, cfg = build_recognizer(args.config, args.checkpoint, device=args.device,
                                  cfg_options=args.cfg_options, warn_random=False)
    result, titles = video_motion(model, cfg, args.input, args.module)
    if args.save_motion:
        save_motion(result, args.save_motion)
    count, shape = write_motion(
        result, titles, args.out, fps=args.fps, max_magnitude=args.max_magnitude,
        interpolation=args.interpolation, title=f'{osp.basename(args.input)}: {result.module} '
        f'({osp.splitext(osp.basename(args.config))[0]})',
        note=None if args.checkpoint else RANDOM_INIT_NOTE)
    print(f'wrote {args.out}: {shape[1]}x{shape[0]} px, {count} image(s), module '
          f'{result.module}, {len(titles)} frame pairs' +
          ('' if args.checkpoint else ', random initialisation'))
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
