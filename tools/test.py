"""Test (and evaluate) a checkpoint from an MMAction2 config, with ms_plugin loaded first.

It takes the same arguments as MMAction2's ``tools/test.py``. Importing
``ms_plugin`` first matters here: with torch >= 2.6 and mmengine 0.10.7,
loading an MMEngine checkpoint fails with ``UnpicklingError`` unless
:mod:`ms_plugin.compat` has allow-listed what such checkpoints hold. As in
``tools/train.py``, a distributed launch without CUDA runs on the CPU (gloo).

Examples::

    python tools/test.py configs/msnet_r50_sthv1.py work_dirs/msnet/epoch_40.pth
    python tools/test.py CONFIG CKPT --dump results.pkl
    tools/dist_test.sh CONFIG CKPT 8
"""
import argparse
import sys
from typing import Optional

from mmengine.config import Config

# Before any config is read or checkpoint loaded: the compat fixes and registration.
import ms_plugin  # noqa: F401
from ms_plugin.cli import add_work_dir, check_model_files, parse_launch_args, run_tool
from ms_plugin.engine.runner import merge_test_args, run_and_tear_down


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    """Read the command line (MMAction2's ``tools/test.py`` arguments)."""
    parser = argparse.ArgumentParser(
        description='Test an MMAction2 recognizer checkpoint with ms_plugin loaded. Without '
        'CUDA, a distributed launch (--launcher pytorch/slurm/mpi) runs on the CPU with the '
        'gloo backend.')
    parser.add_argument('config', help='path of the config')
    parser.add_argument('checkpoint', help='checkpoint file to test')
    add_work_dir(parser, 'the log and metrics')
    parser.add_argument(
        '--dump', type=str, help='also write the predictions to this .pkl file')
    parser.add_argument(
        '--fuse-conv-bn', action='store_true',
        help='fold BatchNorms into their convs after loading the checkpoint (faster '
        'inference, same results up to float rounding; ms_plugin.models.fuse_conv_bn)')
    parser.add_argument(
        '--show-dir', help='save visualized predictions under this folder')
    parser.add_argument(
        '--show', action='store_true', help='show the predictions in a window')
    parser.add_argument(
        '--interval', type=int, default=1, help='visualize every N-th sample. Defaults to 1')
    parser.add_argument(
        '--wait-time', type=float, default=2,
        help='seconds each window stays open with --show. Defaults to 2')
    return parse_launch_args(parser, argv)


def merged_config(args: argparse.Namespace) -> Config:
    """The config with the command line's choices written in."""
    return merge_test_args(
        Config.fromfile(args.config), args.checkpoint, work_dir=args.work_dir,
        launcher=args.launcher, dump=args.dump, fuse_conv_bn=args.fuse_conv_bn, show=args.show,
        show_dir=args.show_dir, interval=args.interval, wait_time=args.wait_time,
        cfg_options=args.cfg_options)


def main(argv: Optional[list] = None) -> None:
    args = parse_args(argv)
    check_model_files(args.config, args.checkpoint)
    run_and_tear_down(merged_config(args), 'test')


if __name__ == '__main__':
    sys.exit(run_tool(main))
