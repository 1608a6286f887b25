"""Strip a training checkpoint for release: keep only the weights and a minimal meta, and
write OUT-<sha256[:8]>.pth (named after its SHA-256).

Keeps ``state_dict`` (unchanged, so the model loads it with ``strict=True``)
and a few ``meta`` entries (epoch, iteration, versions, the dataset's classes,
where a converted checkpoint came from); drops the optimizer, the parameter
schedulers, the message hub and the rest of ``meta`` (the full config text,
seed, time, experiment name). Writes ``OUT-<first 8 hex of sha256>.pth``.

The input is read with ``torch.load(weights_only=True)``: ``import ms_plugin``
allow-lists the few classes MMEngine checkpoints hold, so nothing else in the
file can run code. The work is :func:`ms_plugin.utils.checkpoint.publish_checkpoint`.

Example::

    python tools/publish_model.py work_dirs/msnet_r50_sthv1/epoch_40.pth msnet_r50_sthv1
    # -> msnet_r50_sthv1-1a2b3c4d.pth
"""
import argparse
import sys
from typing import List, Optional

import os.path as osp

import ms_plugin  # noqa: F401  (safe loading of MMEngine checkpoints on torch>=2.6)
from ms_plugin.cli import check_input, check_output_file, run_tool, tool_parser
from ms_plugin.utils.checkpoint import publish_checkpoint


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = tool_parser(__doc__)
    parser.add_argument('in_file', help='checkpoint written by MMEngine (or this plugin\'s tools)')
    parser.add_argument('out_file', help='output name; ".pth" is optional, the hash is appended')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    check_input(args.in_file, 'checkpoint')
    check_output_file(args.out_file)
    final = publish_checkpoint(args.in_file, args.out_file)
    print(f'wrote {final} ({osp.getsize(final) / 2**20:.1f} MiB)')
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
