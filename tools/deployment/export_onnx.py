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
import time
import warnings
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.config import DictAction

DEFAULT_TOLERANCE = 1e-4


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
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
    parser.add_argument('--seed', type=int, default=0, help='seed of the random frames')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value')
    return parser.parse_args(argv)


def sample_shape(cfg, shape: Optional[List[int]]) -> Tuple[int, int, int]:
    """(V*T, H, W) of one sample: ``--shape``, else what the test pipeline makes."""
    from ms_plugin.deployment import config_test_pipeline, views_and_size
    if shape:
        return tuple(shape)
    frames, size = views_and_size(config_test_pipeline(cfg))
    if size is None:
        raise SystemExit('error: the test pipeline has no fixed-size crop, so the frame size '
                         'depends on the video; give it with --shape FRAMES HEIGHT WIDTH.')
    return (frames, ) + tuple(size)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    from mmengine.logging import MMLogger

    from ms_plugin.deployment import (ExportableRecognizer, build_recognizer, export_onnx,
                                      max_relative_error, ort_session, reference_scores, run_onnx)
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter('always')  # the random-weights warning is shown every time
        try:
            model, cfg = build_recognizer(args.config, args.checkpoint, args.cfg_options)
        except ValueError as err:
            raise SystemExit(f'error: {err}') from err
    frames, height, width = sample_shape(cfg, args.shape)
    wrapper = ExportableRecognizer(model)
    generator = torch.Generator().manual_seed(args.seed)

    def random_frames(batch: int) -> torch.Tensor:
        return torch.rand((batch, frames, 3, height, width), generator=generator) * 255

    # An example batch of 2: an exporter can specialise a dimension of size 1.
    start = time.perf_counter()
    used_dynamo = export_onnx(wrapper, random_frames(2), args.out, dynamo=args.dynamo,
                              opset=args.opset)
    print(f'wrote {args.out} ({"dynamo" if used_dynamo else "TorchScript"} exporter, '
          f'torch {torch.__version__}, {time.perf_counter() - start:.1f} s): input frames '
          f'[N, {frames}, 3, {height}, {width}], output scores [N, num_classes]')

    session = ort_session(args.out, args.threads)
    worst = 0.0
    for batch in args.check_batches:
        inputs = random_frames(batch)
        expected = reference_scores(model, inputs).numpy()
        error = max_relative_error(run_onnx(session, inputs.numpy()), expected)
        worst = max(worst, error)
        print(f'ONNX Runtime vs PyTorch test_step, N={batch}: max relative error {error:.2e}')
    if worst > args.tolerance:
        print(f'error: the ONNX file differs from PyTorch by {worst:.2e} > {args.tolerance:.0e}',
              file=sys.stderr)
        return 1
    print(f'OK: max relative error {worst:.2e} <= {args.tolerance:.0e}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
