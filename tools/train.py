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
import datetime
import gc
import logging
import os
import os.path as osp
import subprocess
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmaction.registry import RUNNERS
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

# Before any config is read or model built: the compat fixes and registration.
import ms_plugin  # noqa: F401
from ms_plugin.utils.checkpoint import (CheckpointError, newest_readable_checkpoint,
                                        read_checkpoint, state_dict_mismatch)

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')
LAUNCHER_HELP = (
    'job launcher. "none" runs one process; "pytorch" is for torchrun '
    '(tools/dist_train.sh), "slurm" for srun (tools/slurm_train.sh), "mpi" for mpirun. '
    'Without CUDA, a distributed launch runs on the CPU with the gloo backend.')
DESCRIPTION = (
    'Train an MMAction2 recognizer with ms_plugin loaded. Without CUDA, a '
    'distributed launch (--launcher pytorch/slurm/mpi) runs on the CPU with the '
    'gloo backend.')
CFG_OPTIONS_HELP = (
    'override config entries with key=value pairs, e.g. '
    'train_dataloader.batch_size=4 model.cls_head.num_classes=174. A list is '
    'written key="[a,b]" or key=a,b; nested lists/tuples key="[(a,b),(c,d)]". '
    'Quote the value and leave no spaces inside it.')


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    """Read the command line (MMAction2's ``tools/train.py`` arguments)."""
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument('config', help='path of the training config')
    parser.add_argument(
        '--work-dir', help='folder for logs and checkpoints. Defaults to the config\'s '
        'work_dir, else work_dirs/<config name>')
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
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help=CFG_OPTIONS_HELP)
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none', help=LAUNCHER_HELP)
    # torch.distributed.launch passes --local-rank (older torch: --local_rank).
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def default_work_dir(config_path: str) -> str:
    """``work_dirs/<config file name without extension>``."""
    return osp.join('work_dirs', osp.splitext(osp.basename(config_path))[0])


def merge_train_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Write the command-line choices into ``cfg``; ``--cfg-options`` go last."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = default_work_dir(args.config)

    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None

    if args.amp:
        wrapper_type = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper_type not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(
                f'--amp replaces optim_wrapper.type with AmpOptimWrapper, but the config '
                f'uses {wrapper_type!r}. Drop --amp or configure AMP in the config.')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.resume is not None:
        cfg.resume = True
        # 'auto': the Runner looks for work_dir/last_checkpoint.
        cfg.load_from = None if args.resume == 'auto' else args.resume

    if args.auto_scale_lr:
        if cfg.get('auto_scale_lr') is None:
            raise KeyError(
                '--auto-scale-lr needs `auto_scale_lr = dict(enable=False, '
                'base_batch_size=...)` in the config (the total batch size the lr is for).')
        cfg.auto_scale_lr.enable = True

    randomness = dict(cfg.get('randomness') or {})
    if args.seed is not None:
        randomness['seed'] = args.seed
    if args.diff_rank_seed:
        randomness['diff_rank_seed'] = True
    if args.deterministic:
        randomness['deterministic'] = True
    cfg.randomness = randomness

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def _env_from_slurm() -> None:
    """Set torch.distributed's env:// variables from srun's (as MMEngine does)."""
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:
        nodes = os.environ['SLURM_NODELIST']
        first = subprocess.getoutput(f'scontrol show hostname {nodes} | head -n1')
        os.environ['MASTER_ADDR'] = first


def _env_from_mpi() -> None:
    """Set torch.distributed's env:// variables from Open MPI's."""
    if 'MASTER_ADDR' not in os.environ:
        raise KeyError('--launcher mpi needs MASTER_ADDR in the environment '
                       '(the address of rank 0), e.g. mpirun -x MASTER_ADDR=host0 ...')
    os.environ['RANK'] = os.environ['OMPI_COMM_WORLD_RANK']
    os.environ['WORLD_SIZE'] = os.environ['OMPI_COMM_WORLD_SIZE']
    os.environ['LOCAL_RANK'] = os.environ['OMPI_COMM_WORLD_LOCAL_RANK']
    os.environ.setdefault('MASTER_PORT', '29500')


def setup_cpu_distributed(cfg: Config) -> bool:
    """Prepare a distributed run for a machine without CUDA.

    Chooses the ``gloo`` backend, starts the process group (MMEngine's
    ``init_dist`` would call ``torch.cuda.set_device`` first and fail; the
    Runner skips its own start when a group exists) and wraps the model in
    DistributedDataParallel without ``device_ids``, which DDP requires for
    CPU modules.

    Args:
        cfg (Config): The merged config; ``cfg.launcher`` must be set.

    Returns:
        bool: Whether anything was done (False for ``launcher='none'`` or
        when CUDA is available).
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return False
    env_cfg = cfg.setdefault('env_cfg', ConfigDict())
    dist_cfg = env_cfg.setdefault('dist_cfg', ConfigDict())
    dist_cfg['backend'] = 'gloo'

    wrapper = cfg.get('model_wrapper_cfg') or ConfigDict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper

    if torch_dist.is_initialized():
        return True
    if launcher == 'slurm':
        _env_from_slurm()
    elif launcher == 'mpi':
        _env_from_mpi()
    options = {key: value for key, value in dist_cfg.items() if key != 'backend'}
    if options.get('timeout') is not None:
        options['timeout'] = datetime.timedelta(seconds=options['timeout'])
    torch_dist.init_process_group(backend='gloo', **options)
    return True


def build_runner(cfg: Config) -> Runner:
    """The default Runner, or ``cfg.runner_type`` from the registry."""
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def choose_resume_checkpoint(cfg: Config) -> None:
    """Check the checkpoint a resume starts from, before any process group or model.

    * ``--resume PATH``: a missing, empty, truncated or corrupt file stops the
      run with one error that names it.
    * ``--resume`` alone: when the newest checkpoint of the work dir is
      unreadable (a job killed while writing it), resume from the newest one
      that reads, and say so. When none reads, stop and name them all.

    Raises:
        SystemExit: With the message, when no usable checkpoint is left.
    """
    if not cfg.get('resume'):
        return
    if cfg.get('load_from'):
        try:
            read_checkpoint(cfg.load_from)
        except CheckpointError as err:
            raise SystemExit(f'error: cannot resume: {err}') from err
        return
    path, failures = newest_readable_checkpoint(cfg.work_dir)
    if failures and path is None:
        raise SystemExit('error: cannot resume: no checkpoint in {} can be read:\n{}'.format(
            cfg.work_dir, '\n'.join(f'  {err}' for err in failures)))
    if failures:
        print_log('\n'.join([f'Skipping {len(failures)} unreadable checkpoint(s):'] +
                            [f'  {err}' for err in failures] +
                            [f'Resuming from {path}, the newest readable checkpoint.']),
                  logger='current', level=logging.WARNING)
        cfg.load_from = path  # resume=True with a path: the Runner resumes from it


def report_checkpoint_mismatch(runner: Runner, path: str, strict: bool) -> None:
    """List the keys in which checkpoint ``path`` and the runner's model differ.

    Args:
        runner (Runner): A built runner (its model exists).
        path (str): The checkpoint to be loaded into it.
        strict (bool): Stop on a difference (testing: the metric of a model
            that is partly random means nothing); otherwise log a warning
            (fine-tuning from another model, e.g. a new head, is normal).

    Raises:
        SystemExit: Unreadable checkpoint, or a difference with ``strict``.
    """
    try:
        checkpoint = read_checkpoint(path)
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        mismatch = state_dict_mismatch(model, checkpoint)
    except (CheckpointError, ValueError) as err:
        raise SystemExit(f'error: cannot load {err}') from err
    if mismatch and strict:
        raise SystemExit('error: ' + mismatch.describe(path) +
                         '\nUse the config the checkpoint was trained with.')
    if mismatch:
        runner.logger.warning(mismatch.describe(path) + '\nThe keys that match are loaded; '
                              'the others keep their initialisation.')


def run_and_tear_down(cfg: Config, action: str) -> None:
    """Build the runner, call ``runner.<action>()``, then close the process group.

    Without ``destroy_process_group`` the gloo group outlives ``main``: its
    worker threads still hold finished work (tensors with Python references)
    when the interpreter shuts down, and destroying those then aborts the
    process (``terminate called without an active exception``, SIGABRT), at
    random, after all results were written. So the runner (and the DDP
    wrapper, which holds the group) is dropped and the group destroyed while
    the interpreter is fully alive. The barrier first lets every rank finish
    its last collective; after an error there is none, so no rank waits for
    one that has failed.
    """
    runner = None
    try:
        runner = build_runner(cfg)
        if cfg.get('load_from') and not (action == 'train' and cfg.get('resume')):
            report_checkpoint_mismatch(runner, cfg.load_from, strict=action == 'test')
        getattr(runner, action)()
        if torch_dist.is_initialized():
            torch_dist.barrier()
    finally:
        del runner
        gc.collect()
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()


def main(argv: Optional[list] = None) -> None:
    args = parse_args(argv)
    cfg = merge_train_args(Config.fromfile(args.config), args)
    choose_resume_checkpoint(cfg)
    setup_cpu_distributed(cfg)
    run_and_tear_down(cfg, 'train')


if __name__ == '__main__':
    main()
