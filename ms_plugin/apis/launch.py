"""Distributed launches (torchrun, Slurm, MPI), on CUDA or on the CPU.

MMEngine 0.10.7 starts a distributed run with ``torch.cuda.set_device`` and
the NCCL backend; without CUDA that fails. :func:`setup_cpu_distributed`
starts the process group with ``gloo`` instead, so ``tools/dist_train.sh
CONFIG 2`` runs two CPU processes.
"""
import datetime
import os
import subprocess

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, ConfigDict

__all__ = ['setup_cpu_distributed']


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
