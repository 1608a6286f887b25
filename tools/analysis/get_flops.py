"""FLOPs and parameters of a recognizer config, the whole model (backbone and head).

One clip goes through the model: for a 2D recognizer (TSM, MSNet) the input
is ``N x T x C x H x W`` with ``T`` frames (views x segments), by default one
clip of ``num_segments`` frames at 224x224. What is counted, and how, is
said in :mod:`ms_plugin.apis.flops`.

Examples::

    python tools/analysis/get_flops.py configs/msnet_r50_sthv1.py
    python tools/analysis/get_flops.py configs/msnet_r50_sthv1.py --shape 1 16 3 224 224 \\
        --cfg-options model.backbone.num_segments=16 model.cls_head.num_segments=16
"""
import argparse
import sys
from typing import List, Optional

import ms_plugin  # noqa: F401  (the stack fixes, and the plugin's models registered)
from ms_plugin.apis import count_flops, flops_report
from ms_plugin.cli import add_cfg_options, check_config, run_tool


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='FLOPs and parameters of a recognizer (backbone and head) for one input.')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--shape', type=int, nargs='+', metavar='DIM',
        help='input shape. 2D recognizers (TSM, MSNet): N T C H W, T = views x segments; '
        'H W alone means 1 x num_segments x 3 x H x W. 3D recognizers: N V C T H W. '
        'Defaults to 1 num_segments 3 224 224')
    add_cfg_options(parser, default={})
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    check_config(args.config)
    print(flops_report(count_flops(args.config, args.shape, args.cfg_options), args.config))
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
