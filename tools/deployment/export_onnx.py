"""Export a config's recognizer to ONNX and check the file in ONNX Runtime.

The ONNX graph has one input, ``frames``: float32 ``[N, V*T, 3, H, W]``, RGB
frames 0-255 as the config's test pipeline produces them (V views = clips x
crops, T frames per clip; N dynamic), and one output, ``scores``:
``[N, num_classes]``, equal to ``pred_score`` of ``model.test_step``.
Normalisation and the averaging of views are inside the graph.

After writing the file, the tool runs it in ONNX Runtime on random frames
(batches of ``--check-batches`` samples) and prints the largest error
relative to PyTorch's ``test_step``; it exits with status 1 if that is above
``--tolerance``.

Examples::

    python tools/deployment/export_onnx.py configs/msnet_r50_sthv1.py \\
        work_dirs/msnet_r50_sthv1/epoch_40.pth --out msnet_r50_sthv1.onnx
    python tools/deployment/export_onnx.py configs/synthetic/msnet_r18_synthetic.py \\
        --out msnet_r18.onnx --shape 8 64 64
"""
import argparse
import logging
import sys
import warnings
from typing import Optional, Sequence

# First: its warning filters must precede mmengine's imports (mmengine.logging
# imports pkg_resources), then the stack fixes and the plugin's models.
import ms_plugin  # noqa: F401  (the stack fixes, and the plugin's models registered)

import torch
from mmengine.logging import MMLogger

from ms_plugin.apis import RandomWeightsWarning, export_recognizer, onnx_errors
from ms_plugin.cli import (add_cfg_options, add_seed, check_model_files, check_output_file,
                           run_tool, tool_parser)

DEFAULT_TOLERANCE = 1e-4


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = tool_parser(__doc__)
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint of the config\'s model (without one the weights are '
                        'random)')
    parser.add_argument('--out', required=True, help='the .onnx file to write')
    parser.add_argument('--shape', type=int, nargs=3, metavar=('FRAMES', 'HEIGHT', 'WIDTH'),
                        help='V*T, H and W of one sample. Default: from the test pipeline '
                        '(clips x frames x crops, crop size)')
    exporter = parser.add_mutually_exclusive_group()
    exporter.add_argument('--dynamo', dest='dynamo', action='store_const', const=True,
                          default=None, help='use the torch.export-based exporter (torch >= '
                          '2.5, needs onnxscript)')
    exporter.add_argument('--no-dynamo', dest='dynamo', action='store_const', const=False,
                          help='use the TorchScript exporter (dynamo=False, as mmdeploy). '
                          'Default: the TorchScript exporter, the dynamo one if it fails')
    parser.add_argument('--opset', type=int, default=None, help='ONNX opset version')
    parser.add_argument('--check-batches', type=int, nargs='+', default=[1, 3], metavar='N',
                        help='batch sizes of the ONNX Runtime check. Defaults to 1 3')
    parser.add_argument('--tolerance', type=float, default=DEFAULT_TOLERANCE,
                        help=f'largest relative error accepted. Defaults to {DEFAULT_TOLERANCE}')
    parser.add_argument('--threads', type=int, default=None,
                        help='ONNX Runtime intra-op threads (default: its own choice)')
    add_seed(parser, 'the random frames')
    add_cfg_options(parser)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    check_model_files(args.config, args.checkpoint)
    check_output_file(args.out, '--out folder')
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter('always', RandomWeightsWarning)  # shown every time
        result = export_recognizer(args.config, args.checkpoint, args.out, shape=args.shape,
                                   cfg_options=args.cfg_options, dynamo=args.dynamo,
                                   opset=args.opset, seed=args.seed)
    frames, height, width = result.shape
    print(f'wrote {args.out} ({"dynamo" if result.dynamo else "TorchScript"} exporter, '
          f'torch {torch.__version__}, {result.seconds:.1f} s): input frames '
          f'[N, {frames}, 3, {height}, {width}], output scores [N, num_classes]')
    errors = onnx_errors(result.model, args.out, result.shape, args.check_batches, args.threads,
                         args.seed)
    for batch, error in errors.items():
        print(f'ONNX Runtime vs PyTorch test_step, N={batch}: max relative error {error:.2e}')
    worst = max(errors.values())
    if worst > args.tolerance:
        print(f'error: the ONNX file differs from PyTorch by {worst:.2e} > {args.tolerance:.0e}',
              file=sys.stderr)
        return 1
    print(f'OK: max relative error {worst:.2e} <= {args.tolerance:.0e}')
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
