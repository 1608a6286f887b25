"""Random states in checkpoints, so that a resumed run continues the same run.

MMEngine 0.10.7 saves the seed in a checkpoint but not the states of the
random streams: a resumed run reseeds Python, numpy and torch and so draws
other dropout masks, flips and crops than the run it continues.
:class:`RNGStateHook` stores the streams with every checkpoint and puts them
back before the first resumed epoch.

The sampler's generator and the workers' seeds are MMEngine's (restored from
``meta`` and reseeded on every epoch without persistent workers); what is left
are the global Python, numpy and torch streams, saved here. Validation runs
on a copy of them, so the checkpoint at the end of an epoch holds exactly the
state the next epoch starts from. Limits (persistent workers, an epoch resumed
from an iteration checkpoint): docs/fault_tolerance.md.
"""
import logging
import random
from typing import Dict, List, Optional

import numpy as np
import torch
from mmaction.registry import HOOKS
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop

CHECKPOINT_KEY = 'rng_states'
STATE_VERSION = 1

__all__ = ['RNGStateHook', 'capture_rng_state', 'restore_rng_state', 'CHECKPOINT_KEY']


def capture_rng_state() -> Dict[str, object]:
    """The states of Python's, numpy's and torch's global random streams.

    Only tensors and plain Python values, so that a checkpoint holding them
    stays readable with ``torch.load(weights_only=True)`` on any torch.

    Returns:
        dict: ``python``, ``numpy``, ``torch`` and, when CUDA is initialised,
        ``cuda`` (one state per device).
    """
    version, mt_state, gauss_next = random.getstate()
    name, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    state = dict(
        python=dict(version=version, state=torch.tensor(mt_state, dtype=torch.int64),
                    gauss_next=gauss_next),
        numpy=dict(name=name, keys=torch.from_numpy(keys.astype(np.int64)), pos=int(pos),
                   has_gauss=int(has_gauss), cached_gaussian=float(cached_gaussian)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Dict[str, object]) -> None:
    """Put back the streams :func:`capture_rng_state` returned."""
    python = state['python']
    random.setstate((python['version'], tuple(int(v) for v in python['state'].tolist()),
                     python['gauss_next']))
    numpy = state['numpy']
    np.random.set_state((numpy['name'], numpy['keys'].numpy().astype(np.uint32), numpy['pos'],
                         numpy['has_gauss'], numpy['cached_gaussian']))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the random streams with each checkpoint; restore them on resume.

    With this hook, a run stopped at any point (killed, pre-empted) and
    continued with ``resume=True`` ends with the same weights, bit for bit, as
    the run that was never stopped, given deterministic settings, the same
    machine and no persistent workers. Every rank's streams are saved (they
    are gathered to rank 0 at the end of each epoch).

    Args:
        isolate_validation (bool): Run validation during training on a copy of
            the random streams, so that it draws nothing from training's.
            Needed for exactness: a resumed run does not repeat the
            validation after its checkpoint. Defaults to True.
    """

    priority = 'NORMAL'  # before CheckpointHook (VERY_LOW) at the end of an epoch

    def __init__(self, isolate_validation: bool = True) -> None:
        self.isolate_validation = isolate_validation
        self._epoch_end_states: Optional[List[dict]] = None
        self._epoch_end_iter: Optional[int] = None
        self._before_val: Optional[dict] = None
        self._loaded: Optional[dict] = None
        self._loaded_iter: Optional[int] = None
        self._to_restore: Optional[dict] = None

    # ---------------------------------------------------------------- saving
    def after_train_epoch(self, runner) -> None:
        """Capture every rank's streams where the next epoch will start from."""
        state = capture_rng_state()
        self._epoch_end_states = (all_gather_object(state) if get_world_size() > 1
                                  else [state])
        self._epoch_end_iter = runner.iter

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Write the states into the checkpoint (called on rank 0 only)."""
        at_epoch_end = self._epoch_end_iter == runner.iter and self._epoch_end_states
        if at_epoch_end:
            states = self._epoch_end_states
        elif self._before_val is not None:  # e.g. a best checkpoint, saved during validation
            states = [self._before_val]
        else:  # an iteration checkpoint: no collective is possible here, rank 0 only
            states = [capture_rng_state()]
        checkpoint[CHECKPOINT_KEY] = dict(
            version=STATE_VERSION, ranks=states, at_epoch_end=bool(at_epoch_end))

    # ------------------------------------------------------------ validation
    def before_val(self, runner) -> None:
        if self.isolate_validation:
            self._before_val = capture_rng_state()

    def after_val(self, runner) -> None:
        if self._before_val is not None:
            restore_rng_state(self._before_val)
            self._before_val = None

    # --------------------------------------------------------------- resuming
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the states of a loaded checkpoint until training starts."""
        self._loaded = checkpoint.get(CHECKPOINT_KEY)
        self._loaded_iter = checkpoint.get('meta', {}).get('iter')
        if self._loaded is None and runner.cfg.get('resume', False):
            print_log(
                'RNGStateHook: the checkpoint holds no random states (written without this '
                'hook); the resumed run draws other random numbers than the original one.',
                logger='current', level=logging.WARNING)

    def before_train(self, runner) -> None:
        self._warn_about_persistent_workers(runner)
        loaded, self._loaded = self._loaded, None
        # A resumed run continues at the checkpoint's iteration; load_from starts at 0.
        if loaded is None or runner.iter == 0 or runner.iter != self._loaded_iter:
            return
        states = loaded['ranks']
        rank, world_size = get_rank(), get_world_size()
        if len(states) != world_size:
            print_log(
                f'RNGStateHook: the checkpoint holds random states of {len(states)} '
                f'process(es), this run has {world_size}; each rank takes '
                f'state {rank % len(states)}. The run is not an exact continuation.',
                logger='current', level=logging.WARNING)
        if not loaded.get('at_epoch_end', True) and isinstance(runner.train_loop,
                                                               EpochBasedTrainLoop):
            print_log(
                f'RNGStateHook: the checkpoint was written at iteration {runner.iter}, inside '
                'an epoch. MMEngine restarts that epoch from its first batch, so the batches '
                'before the checkpoint are trained again: not an exact continuation.',
                logger='current', level=logging.WARNING)
        self._to_restore = states[rank % len(states)]

    def before_train_epoch(self, runner) -> None:
        """Restore just before the first resumed epoch builds its DataLoader iterator."""
        if self._to_restore is not None:
            restore_rng_state(self._to_restore)
            self._to_restore = None
            print_log(f'RNGStateHook: random states restored at iteration {runner.iter}.',
                      logger='current')

    # ----------------------------------------------------------------- helpers
    @staticmethod
    def _warn_about_persistent_workers(runner) -> None:
        loader = runner.train_loop.dataloader
        if not (getattr(loader, 'persistent_workers', False) and loader.num_workers > 0):
            return
        # Bit-identical resumption needs deterministic kernels too; a run that does not
        # ask for them (the synthetic demo configs) is told, not warned.
        randomness = getattr(runner, 'cfg', None) and runner.cfg.get('randomness') or {}
        level = logging.WARNING if randomness.get('deterministic') else logging.INFO
        print_log(
            'RNGStateHook: the training DataLoader has persistent workers. Their random '
            'streams live in the worker processes, which no checkpoint can read, so a '
            'resumed run is not bit-identical to an uninterrupted one. Set '
            'train_dataloader.persistent_workers=False for exact resumption.',
            logger='current', level=level)
