"""Train a recognizer from an MMAction2 config, with ms_plugin loaded first.

It takes the same arguments as MMAction2's ``tools/train.py``. The differences:

* ``ms_plugin`` is imported before the config is read, so the fixes of
  :mod:`ms_plugin.compat` and the plugin's models are there even for a config
  without ``custom_imports``.
* A distributed launch (``--launcher pytorch|slurm|mpi``) on a machine without
  CUDA runs on the CPU: the process group uses the ``gloo`` backend and the
  model is wrapped in DistributedDataParallel without ``device_ids``. MMEngine
  0.10.7 would instead call ``torch.cuda.set_device`` and fail.
* ``--seed``, ``--diff-rank-seed`` and ``--deterministic`` override the
  config's ``randomness`` when given (MMAction2 ignores them if the config
  sets ``randomness``).
* ``--resume PATH`` with an unreadable file stops with one error naming it;
  ``--resume`` alone skips unreadable newest checkpoints and says so;
  ``load_from`` lists the keys in which the checkpoint and the model differ.
* The process group is destroyed before exit (see :func:`run_and_tear_down`).

Examples::

    python tools/train.py configs/msnet_r50_sthv1.py --work-dir work_dirs/msnet
    python tools/train.py CONFIG --resume                 # latest checkpoint in work_dir
    python tools/train.py CONFIG --resume work_dirs/msnet/epoch_10.pth
    tools/dist_train.sh CONFIG 8                          # torchrun, 8 processes
"""
import argparse
import sys
from typing import Optional

from mmengine.config import Config

# Before any config is read or model built: the compat fixes and registration.
import ms_plugin  # noqa: F401
from ms_plugin.cli import add_work_dir, check_config, parse_launch_args, run_tool
from ms_plugin.engine.runner import choose_resume_checkpoint, merge_train_args, run_and_tear_down

DESCRIPTION = (
    'Train an MMAction2 recognizer with ms_plugin loaded. Without CUDA, a '
    'distributed launch (--launcher pytorch/slurm/mpi) runs on the CPU with the '
    'gloo backend.')


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    """Read the command line (MMAction2's ``tools/train.py`` arguments)."""
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument('config', help='path of the training config')
    add_work_dir(parser, 'logs and checkpoints')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume training: alone, from the latest checkpoint in the work dir; '
        'followed by a path, from that checkpoint')
    parser.add_argument(
        '--amp', action='store_true', help='automatic mixed precision (AmpOptimWrapper)')
    parser.add_argument(
        '--no-validate', action='store_true', help='skip validation during training')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the learning rate by (total batch size) / auto_scale_lr.base_batch_size')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument(
        '--diff-rank-seed', action='store_true', help='give every rank a different seed')
    parser.add_argument(
        '--deterministic', action='store_true',
        help='deterministic cuDNN (slower, reproducible)')
    return parse_launch_args(parser, argv)


def merged_config(args: argparse.Namespace) -> Config:
    """The config with the command line's choices written in."""
    return merge_train_args(
        Config.fromfile(args.config), work_dir=args.work_dir, launcher=args.launcher,
        resume=args.resume, amp=args.amp, no_validate=args.no_validate,
        auto_scale_lr=args.auto_scale_lr, seed=args.seed, diff_rank_seed=args.diff_rank_seed,
        deterministic=args.deterministic, cfg_options=args.cfg_options)


def main(argv: Optional[list] = None) -> None:
    args = parse_args(argv)
    check_config(args.config)
    cfg = merged_config(args)
    choose_resume_checkpoint(cfg)
    run_and_tear_down(cfg, 'train')


if __name__ == '__main__':
    sys.exit(run_tool(main))
