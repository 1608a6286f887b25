"""Run training or testing from a config: the command-line choices merged in,
the checkpoint checked, the process group set up, the Runner built and run,
the process group torn down.

``tools/train.py`` and ``tools/test.py`` are argparse plus these calls.
"""
import argparse
import gc
import logging
import os.path as osp
from urllib.error import URLError

import torch.distributed as torch_dist
from mmaction.registry import RUNNERS
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from ..datasets import DatasetCheckError
from .launch import setup_cpu_distributed
from .preflight import check_annotation_files, download_error_message, refuse_data_root_option
from ..utils.checkpoint import (CheckpointError, newest_readable_checkpoint, read_checkpoint,
                                state_dict_mismatch)

__all__ = [
    'build_runner', 'choose_resume_checkpoint', 'default_work_dir', 'merge_test_args',
    'merge_train_args', 'report_checkpoint_mismatch', 'run_and_tear_down'
]


def default_work_dir(config_path: str) -> str:
    """``work_dirs/<config file name without extension>``."""
    return osp.join('work_dirs', osp.splitext(osp.basename(config_path))[0])


def _set_work_dir(cfg: Config, args: argparse.Namespace) -> None:
    """``--work-dir``, else the config's ``work_dir``, else :func:`default_work_dir`."""
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = default_work_dir(args.config)


def merge_train_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Write the command-line choices into ``cfg``; ``--cfg-options`` go last."""
    refuse_data_root_option(args.cfg_options)
    cfg.launcher = args.launcher
    _set_work_dir(cfg, args)

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
    # No seed anywhere: a random one, chosen and logged by the Runner (as
    # MMEngine's own train.py does) and stored in checkpoints, so a resumed
    # run goes on with it. Runner.set_randomness has no default for `seed`.
    randomness.setdefault('seed', None)
    cfg.randomness = randomness

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def merge_test_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Write the command-line choices into ``cfg``; ``--cfg-options`` go before work_dir."""
    refuse_data_root_option(args.cfg_options)
    cfg.launcher = args.launcher
    if args.show or args.show_dir is not None:
        hooks = cfg.get('default_hooks') or {}
        if 'visualization' not in hooks:
            raise KeyError(
                '--show/--show-dir need a VisualizationHook: add '
                'default_hooks = dict(visualization=dict(type="VisualizationHook")) '
                'to the config.')
        hooks['visualization'].update(
            enable=True, show=args.show, wait_time=args.wait_time, out_dir=args.show_dir,
            interval=args.interval)

    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--dump writes a pickle: give a .pkl path, not {args.dump!r}')
        evaluators = cfg.test_evaluator
        evaluators = list(evaluators) if isinstance(evaluators, (list, tuple)) else [evaluators]
        cfg.test_evaluator = evaluators + [ConfigDict(type='DumpResults',
                                                      out_file_path=args.dump)]

    if args.fuse_conv_bn:
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            ConfigDict(type='FuseConvBNHook')]

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    _set_work_dir(cfg, args)
    cfg.load_from = args.checkpoint
    return cfg


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


def run_and_tear_down(cfg: Config, action: str):
    """Build the runner, call ``runner.<action>()``, then close the process group.

    A distributed launch without CUDA first gets its process group on the
    CPU (:func:`~.launch.setup_cpu_distributed`; nothing for
    ``launcher='none'`` or with CUDA).

    Without ``destroy_process_group`` the gloo group outlives ``main``: its
    worker threads still hold finished work (tensors with Python references)
    when the interpreter shuts down, and destroying those then aborts the
    process (``terminate called without an active exception``, SIGABRT), at
    random, after all results were written. So the runner (and the DDP
    wrapper, which holds the group) is dropped and the group destroyed while
    the interpreter is fully alive. The barrier first lets every rank finish
    its last collective; after an error there is none, so no rank waits for
    one that has failed.

    Args:
        cfg (Config): The merged config.
        action (str): ``'train'`` or ``'test'``.

    Returns:
        What ``runner.<action>()`` returns: the trained model for ``'train'``,
        the metrics dict for ``'test'``.
    """
    setup_cpu_distributed(cfg)
    check_annotation_files(cfg, action)
    runner = None
    try:
        runner = build_runner(cfg)
        if cfg.get('load_from') and not (action == 'train' and cfg.get('resume')):
            report_checkpoint_mismatch(runner, cfg.load_from, strict=action == 'test')
        result = getattr(runner, action)()
        if torch_dist.is_initialized():
            torch_dist.barrier()
        return result
    except DatasetCheckError as err:  # a label beyond num_classes, a flip map that does not fit
        raise SystemExit(f'error: {err}') from err
    except URLError as err:  # pretrained weights on a machine without internet
        raise SystemExit(download_error_message(cfg, err)) from err
    finally:
        del runner
        gc.collect()
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()
