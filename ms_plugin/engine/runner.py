"""Training and testing runs from a config, as ``tools/train.py`` and ``tools/test.py`` start them.

* :func:`merge_train_args` / :func:`merge_test_args` write the command
  line's choices (plain keyword arguments) into a config;
* :func:`choose_resume_checkpoint` checks the checkpoint a resume starts from;
* :func:`run_and_tear_down` sets a CPU process group up where MMEngine cannot
  (:func:`setup_cpu_distributed`), checks the annotation lists, builds the
  Runner, runs it and closes the process group.

Every refused input raises :class:`~ms_plugin.utils.errors.InputError`.
"""
import datetime
import gc
import logging
import os
import os.path as osp
import subprocess
from typing import Optional
from urllib.error import URLError
from urllib.parse import urlparse

import torch
import torch.distributed as torch_dist
import torch.hub
from mmaction.registry import RUNNERS
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import (get_external_models, get_mmcls_models,
                                        get_torchvision_models)

from ..datasets.walk import annotation_files
from ..utils.checkpoint import newest_readable_checkpoint, read_checkpoint, state_dict_mismatch
from ..utils.errors import InputError

__all__ = ['merge_train_args', 'merge_test_args', 'choose_resume_checkpoint',
           'run_and_tear_down', 'setup_cpu_distributed', 'offline_weights_path']

DATA_ROOT_HINT = ('launch from the folder that holds data/, or set the environment variable '
                  'MS_DATA_ROOT to the folder that holds the datasets (README, "Train on your '
                  'own data")')
# The loaders each action reads.
ACTION_LOADERS = dict(train=('train_dataloader', 'val_dataloader'), test=('test_dataloader', ))
_WEIGHT_SCHEMES = (('torchvision://', get_torchvision_models),
                   ('modelzoo://', get_torchvision_models), ('mmcls://', get_mmcls_models),
                   ('open-mmlab://', get_external_models), ('openmmlab://', get_external_models))


def _refuse_data_root_option(cfg_options: Optional[dict]) -> None:
    """``--cfg-options data_root=...`` cannot move the data: configs resolve paths on load."""
    for key in ('data_root', 'datasets_root', 'data_root_val'):
        if cfg_options and key in cfg_options:
            raise InputError(
                f'--cfg-options {key}=... does not move the data: the config resolved its '
                f'paths when it was loaded. Set MS_DATA_ROOT={cfg_options[key]} in the '
                'environment instead (the folder that holds sthv1/, sthv2/, kinetics400/, '
                'hmdb51/), or override each loader\'s dataset.ann_file and dataset.data_prefix.')


def _set_work_dir(cfg: Config, work_dir: Optional[str]) -> None:
    """``work_dir``, else the config's, else ``work_dirs/<config file name>``."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(cfg.filename))[0])


def merge_train_args(cfg: Config, *, work_dir: Optional[str] = None, launcher: str = 'none',
                     resume: Optional[str] = None, amp: bool = False,
                     no_validate: bool = False, auto_scale_lr: bool = False,
                     seed: Optional[int] = None, diff_rank_seed: bool = False,
                     deterministic: bool = False,
                     cfg_options: Optional[dict] = None) -> Config:
    """Write the choices of ``tools/train.py`` (its options, by name) into ``cfg``.

    ``work_dir`` defaults to the config's, else ``work_dirs/<config name>``;
    ``resume`` is ``'auto'`` (the work dir's latest checkpoint) or a path;
    ``seed`` overrides ``randomness.seed`` (with none anywhere the Runner draws
    one and logs it); ``cfg_options`` go last. Returns ``cfg``, changed in place.
    """
    _refuse_data_root_option(cfg_options)
    cfg.launcher = launcher
    _set_work_dir(cfg, work_dir)
    if no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if amp:
        wrapper_type = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper_type not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise InputError(
                f'--amp replaces optim_wrapper.type with AmpOptimWrapper, but the config '
                f'uses {wrapper_type!r}. Drop --amp or configure AMP in the config.')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if resume is not None:
        cfg.resume = True
        # 'auto': the Runner looks for work_dir/last_checkpoint.
        cfg.load_from = None if resume == 'auto' else resume
    if auto_scale_lr:
        if cfg.get('auto_scale_lr') is None:
            raise InputError(
                '--auto-scale-lr needs `auto_scale_lr = dict(enable=False, '
                'base_batch_size=...)` in the config (the total batch size the lr is for).')
        cfg.auto_scale_lr.enable = True
    randomness = dict(cfg.get('randomness') or {})
    if seed is not None:
        randomness['seed'] = seed
    if diff_rank_seed:
        randomness['diff_rank_seed'] = True
    if deterministic:
        randomness['deterministic'] = True
    # No seed anywhere: the Runner draws one, logs it and stores it in the
    # checkpoints, so a resumed run goes on with it (MMEngine's train.py too).
    randomness.setdefault('seed', None)
    cfg.randomness = randomness
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def merge_test_args(cfg: Config, checkpoint: str, *, work_dir: Optional[str] = None,
                    launcher: str = 'none', dump: Optional[str] = None,
                    fuse_conv_bn: bool = False, show: bool = False,
                    show_dir: Optional[str] = None, interval: int = 1, wait_time: float = 2,
                    cfg_options: Optional[dict] = None) -> Config:
    """Write the choices of ``tools/test.py`` (its options, by name) into ``cfg``.

    ``dump`` also writes the predictions to a ``.pkl``; ``fuse_conv_bn`` folds
    BatchNorms into their convs after loading; ``show*``, ``interval`` and
    ``wait_time`` go to the VisualizationHook; ``cfg_options`` go before
    ``work_dir``. Returns ``cfg``, changed in place.
    """
    _refuse_data_root_option(cfg_options)
    cfg.launcher = launcher
    if show or show_dir is not None:
        hooks = cfg.get('default_hooks') or {}
        if 'visualization' not in hooks:
            raise InputError(
                '--show/--show-dir need a VisualizationHook: add default_hooks = '
                'dict(visualization=dict(type="VisualizationHook")) to the config.')
        hooks['visualization'].update(enable=True, show=show, wait_time=wait_time,
                                      out_dir=show_dir, interval=interval)
    if dump is not None:
        if not dump.endswith(('.pkl', '.pickle')):
            raise InputError(f'--dump writes a pickle: give a .pkl path, not {dump!r}')
        evaluators = cfg.test_evaluator
        evaluators = list(evaluators) if isinstance(evaluators, (list, tuple)) else [evaluators]
        cfg.test_evaluator = evaluators + [ConfigDict(type='DumpResults', out_file_path=dump)]
    if fuse_conv_bn:
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            ConfigDict(type='FuseConvBNHook')]
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    _set_work_dir(cfg, work_dir)
    cfg.load_from = checkpoint
    return cfg


def choose_resume_checkpoint(cfg: Config) -> None:
    """Check the checkpoint a resume starts from, before any process group or model.

    A given checkpoint that is missing, empty, truncated or corrupt is
    refused by name. With ``resume='auto'``, an unreadable newest checkpoint
    (a job killed while writing it) is skipped for the newest one that reads,
    and the log says so.

    Raises:
        InputError: When no usable checkpoint is left.
    """
    if not cfg.get('resume'):
        return
    if cfg.get('load_from'):
        try:
            read_checkpoint(cfg.load_from)
        except InputError as err:
            raise InputError(f'cannot resume: {err}') from err
        return
    path, failures = newest_readable_checkpoint(cfg.work_dir)
    if failures and path is None:
        raise InputError('cannot resume: no checkpoint in {} can be read:\n{}'.format(
            cfg.work_dir, '\n'.join(f'  {err}' for err in failures)))
    if failures:
        print_log('\n'.join([f'Skipping {len(failures)} unreadable checkpoint(s):'] +
                            [f'  {err}' for err in failures] +
                            [f'Resuming from {path}, the newest readable checkpoint.']),
                  logger='current', level=logging.WARNING)
        cfg.load_from = path  # resume=True with a path: the Runner resumes from it


def _check_checkpoint_fits(runner: Runner, path: str, strict: bool) -> None:
    """List the keys in which checkpoint ``path`` and the runner's model differ.

    ``strict`` (testing: a partly random model's metric means nothing)
    refuses a difference; otherwise (fine-tuning, e.g. a new head) it is a
    warning.
    """
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    mismatch = state_dict_mismatch(model, read_checkpoint(path))
    if mismatch and strict:
        raise InputError(mismatch.describe(path) +
                         '\nUse the config the checkpoint was trained with.')
    if mismatch:
        runner.logger.warning(mismatch.describe(path) + '\nThe keys that match are loaded; '
                              'the others keep their initialisation.')


def _check_annotation_files(cfg: Config, action: str) -> None:
    """Refuse a missing annotation list that ``action`` reads, naming it and its loader."""
    loaders = ACTION_LOADERS[action]
    if action == 'train' and not cfg.get('val_cfg'):
        loaders = loaders[:1]
    for key, ann_file in annotation_files(cfg, loaders):
        if not osp.isfile(ann_file):
            loader = key.split('.')[0]
            raise InputError(f'annotation file {ann_file} ({loader}) does not exist; '
                             f'{DATA_ROOT_HINT}.')


def offline_weights_path(spec: str) -> Optional[str]:
    """Where the file for a ``pretrained`` value must lie so that loading it needs no network.

    MMEngine resolves ``torchvision://resnet50``, ``mmcls://...``,
    ``open-mmlab://...`` or a URL to a URL, and keeps the download in
    ``$TORCH_HOME/hub/checkpoints/<file name of the URL>``.

    Returns:
        str, optional: That path, or None when ``spec`` is a local file.
    """
    url = spec if spec.startswith(('http://', 'https://')) else None
    for prefix, models in _WEIGHT_SCHEMES:
        if spec.startswith(prefix):
            url = models().get(spec[len(prefix):])
    if not url or not url.startswith(('http://', 'https://')):
        return None
    return osp.join(torch.hub.get_dir(), 'checkpoints', osp.basename(urlparse(url).path))


def _download_error(cfg: Config, err: URLError) -> InputError:
    """Weights that could not be downloaded (no internet): which, why, where they go."""
    spec = ((cfg.get('model') or {}).get('backbone') or {}).get('pretrained')
    reason = getattr(err, 'reason', None) or err
    if not isinstance(spec, str) or offline_weights_path(spec) is None:
        return InputError(f'a download failed ({reason}); this machine may have no internet '
                          'access. Give the config local files for its weights.')
    return InputError(
        f'cannot download the pretrained weights {spec} ({reason}). Offline, copy the file to '
        f'{offline_weights_path(spec)} (set TORCH_HOME to choose another cache folder), or '
        'set model.backbone.pretrained to a local file, e.g. '
        '--cfg-options model.backbone.pretrained=/path/to/weights.pth.')


def _env_from_launcher(launcher: str) -> None:
    """torch.distributed's env:// variables from srun's or Open MPI's."""
    if launcher == 'slurm':
        os.environ['RANK'] = os.environ['SLURM_PROCID']
        os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
        os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
        if 'MASTER_ADDR' not in os.environ:
            nodes = os.environ['SLURM_NODELIST']
            os.environ['MASTER_ADDR'] = subprocess.getoutput(
                f'scontrol show hostname {nodes} | head -n1')
    elif launcher == 'mpi':
        if 'MASTER_ADDR' not in os.environ:
            raise InputError('--launcher mpi needs MASTER_ADDR in the environment '
                             '(the address of rank 0), e.g. mpirun -x MASTER_ADDR=host0 ...')
        os.environ['RANK'] = os.environ['OMPI_COMM_WORLD_RANK']
        os.environ['WORLD_SIZE'] = os.environ['OMPI_COMM_WORLD_SIZE']
        os.environ['LOCAL_RANK'] = os.environ['OMPI_COMM_WORLD_LOCAL_RANK']
    os.environ.setdefault('MASTER_PORT', '29500')


def setup_cpu_distributed(cfg: Config) -> bool:
    """Start a distributed run's process group on the CPU, where MMEngine 0.10.7 cannot.

    MMEngine calls ``torch.cuda.set_device`` and uses NCCL. Without CUDA this
    chooses ``gloo``, starts the group (the Runner skips its own start when
    a group exists) and wraps the model in DistributedDataParallel without
    ``device_ids``, as DDP requires for CPU modules.

    Args:
        cfg (Config): The merged config; ``cfg.launcher`` must be set.

    Returns:
        bool: Whether anything was done (False for ``launcher='none'`` or
        with CUDA).
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return False
    dist_cfg = cfg.setdefault('env_cfg', ConfigDict()).setdefault('dist_cfg', ConfigDict())
    dist_cfg['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg') or ConfigDict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    if torch_dist.is_initialized():
        return True
    _env_from_launcher(launcher)
    options = {key: value for key, value in dist_cfg.items() if key != 'backend'}
    if options.get('timeout') is not None:
        options['timeout'] = datetime.timedelta(seconds=options['timeout'])
    torch_dist.init_process_group(backend='gloo', **options)
    return True


def run_and_tear_down(cfg: Config, action: str, hooks: tuple = ()):
    """Build the runner, call ``runner.<action>()``, then close the process group.

    Without ``destroy_process_group`` the gloo group outlives the run: its
    worker threads still hold finished work when the interpreter shuts down,
    and destroying those then aborts the process (SIGABRT) at random, after
    all results were written. So the runner (and the DDP wrapper, which holds
    the group) is dropped and the group destroyed while the interpreter is
    fully alive. The barrier first lets every rank finish its last
    collective; after an error there is none, so no rank waits for a failed one.

    Args:
        cfg (Config): The merged config.
        action (str): ``'train'`` or ``'test'``.
        hooks (tuple): Hook objects to register on the runner (the demo's
            progress bar). Defaults to ().

    Returns:
        What ``runner.<action>()`` returns: the model for ``'train'``, the
        metrics for ``'test'``.
    """
    setup_cpu_distributed(cfg)
    _check_annotation_files(cfg, action)
    runner = None
    try:
        runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
        for hook in hooks:
            runner.register_hook(hook)
        if cfg.get('load_from') and not (action == 'train' and cfg.get('resume')):
            _check_checkpoint_fits(runner, cfg.load_from, strict=action == 'test')
        result = getattr(runner, action)()
        if torch_dist.is_initialized():
            torch_dist.barrier()
        return result
    except URLError as err:  # pretrained weights on a machine without internet
        raise _download_error(cfg, err) from err
    finally:
        del runner
        gc.collect()
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()
