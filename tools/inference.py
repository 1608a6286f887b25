"""Print the top-k classes of a video for a config's recognizer, in PyTorch or ONNX Runtime.

VIDEO is a video file (anything decord reads) or a folder of frames (images in
name order). The config's test pipeline turns it into the model's input (its
frame reading adapted to the kind of VIDEO); then either the PyTorch model
(CONFIG with CHECKPOINT) or an ONNX file written by
tools/deployment/export_onnx.py (--onnx) scores it. Both give the same scores
up to float rounding, so the same top-k.

Examples::

    python tools/inference.py demo.mp4 configs/msnet_r50_sthv2.py msnet_r50_sthv2.pth \\
        --label-map data/sthv2/label_map.txt
    python tools/inference.py frames/ configs/msnet_r50_sthv1.py --onnx msnet_r50_sthv1.onnx
"""
import argparse
import logging
import sys
import warnings
from typing import List, Optional, Sequence, Tuple

# First: its warning filters must precede mmengine's imports (mmengine.logging
# imports pkg_resources), then the stack fixes and the plugin's models.
import ms_plugin  # noqa: F401  (the stack fixes, and the plugin's models registered)

import numpy as np
from mmengine.logging import MMLogger

from ms_plugin.apis import (RandomWeightsWarning, build_recognizer, config_test_pipeline,
                            load_clip, load_config, video_scores)
from ms_plugin.cli import add_cfg_options, check_config, check_input, run_tool, tool_parser
from ms_plugin.deployment import onnx_input_shape, ort_session, run_onnx
from ms_plugin.utils.errors import InputError


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = tool_parser(__doc__)
    parser.add_argument('video', help='video file or folder of frames')
    parser.add_argument('config', help='config file (its test pipeline prepares the frames)')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint of the config\'s model (PyTorch; without one and '
                        'without --onnx the weights are random)')
    parser.add_argument('--onnx', help='score with this ONNX file in ONNX Runtime instead of '
                        'PyTorch')
    parser.add_argument('--label-map', help='text file with one class name per line')
    parser.add_argument('--top-k', type=int, default=5, help='classes to print. Defaults to 5')
    parser.add_argument('--threads', type=int, default=None,
                        help='ONNX Runtime intra-op threads (default: its own choice)')
    add_cfg_options(parser)
    return parser.parse_args(argv)


def read_label_map(path: str) -> List[str]:
    """Class names, one a line (MMAction2's label map files)."""
    try:
        with open(path, encoding='utf-8') as file:
            return [line.strip() for line in file if line.strip()]
    except OSError as err:
        raise InputError(f'cannot read the label map {path}: {err}') from err


def top_k(scores: np.ndarray, k: int) -> List[Tuple[int, float]]:
    """The ``k`` largest scores as ``(class index, score)``, largest first
    (ties: the smaller index first)."""
    order = np.lexsort((np.arange(len(scores)), -scores))[:k]
    return [(int(index), float(scores[index])) for index in order]


def pytorch_scores(config: str, checkpoint: Optional[str], cfg_options: Optional[dict],
                   video: str) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter('always', RandomWeightsWarning)
        model, _ = build_recognizer(config, checkpoint, cfg_options=cfg_options)
    return video_scores(model, video)


def onnx_scores(config: str, onnx_file: str, cfg_options: Optional[dict], video: str,
                threads: Optional[int]) -> np.ndarray:
    cfg = load_config(config, cfg_options)  # the default scope: the pipeline's transforms
    try:
        session = ort_session(onnx_file, threads)
    except Exception as err:  # onnxruntime raises its own error types
        raise InputError(f'cannot load {onnx_file} in ONNX Runtime: {err}') from err
    # [V*T, 3, H, W] -> [1, V*T, 3, H, W]
    frames = load_clip(video, config_test_pipeline(cfg)).frames[None].numpy()
    expected = onnx_input_shape(session)
    fixed = [(axis, size) for axis, size in enumerate(expected) if isinstance(size, int)]
    if len(expected) != frames.ndim or any(frames.shape[axis] != size for axis, size in fixed):
        raise InputError(f'the test pipeline of {config} gives frames of shape '
                         f'{list(frames.shape)}, but {onnx_file} takes {list(expected)}; export '
                         'it from the same config (or --shape of these frames).')
    return run_onnx(session, frames)[0]


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    check_config(args.config)
    check_input(args.video, 'video', folder_ok=True)
    check_input(args.checkpoint, 'checkpoint')
    check_input(args.onnx, 'ONNX file')
    check_input(args.label_map, 'label map')
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    if args.top_k < 1:
        raise InputError('--top-k must be at least 1')
    names = read_label_map(args.label_map) if args.label_map else None
    if args.onnx:
        if args.checkpoint:
            print(f'note: {args.checkpoint} is not used: the weights are those in '
                  f'{args.onnx}', file=sys.stderr)
        scores = onnx_scores(args.config, args.onnx, args.cfg_options, args.video, args.threads)
    else:
        scores = pytorch_scores(args.config, args.checkpoint, args.cfg_options, args.video)
    if names is not None and len(names) != len(scores):
        raise InputError(f'{args.label_map} has {len(names)} class names, the model '
                         f'{len(scores)} classes.')
    backend = f'ONNX Runtime, {args.onnx}' if args.onnx else 'PyTorch'
    print(f'top-{min(args.top_k, len(scores))} of {args.video} ({backend}):')
    for rank, (index, score) in enumerate(top_k(scores, args.top_k), start=1):
        label = f'{index} {names[index]}' if names else str(index)
        print(f'{rank:>3}. {label}: {score:.4f}')
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
