"""Unreadable videos: skipped and counted in training, stopped at or left out in evaluation,
with the ``UnreadableVideoGuard`` steps of the pipelines (see docs/fault_tolerance.md)."""
import logging
from typing import Dict, List, Optional

from mmaction.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import IterBasedTrainLoop

from ...datasets.probe import sample_problems
from ...datasets.transforms.unreadable_video import ON_ERROR, UnreadableVideoGuard, sample_source
from ...datasets.walk import leaf_datasets, walk_datasets
from ...utils.errors import InputError

LEFT_OUT_KEY = 'left_out_videos'
SKIPPED_SCALAR = 'train/skipped_videos'
MAX_NAMES = 10  # file names shown in one log line

__all__ = ['UnreadableVideoHook', 'find_guards', 'leave_out_unreadable', 'LEFT_OUT_KEY']


def find_guards(dataset) -> List[UnreadableVideoGuard]:
    """The :class:`UnreadableVideoGuard` steps of a dataset's pipeline(s)."""
    return [step for _, data in walk_datasets(dataset)
            for step in getattr(getattr(data, 'pipeline', None), 'transforms', None) or ()
            if isinstance(step, UnreadableVideoGuard)]


def _names(files: List[str]) -> str:
    more = f' and {len(files) - MAX_NAMES} more' if len(files) > MAX_NAMES else ''
    return ', '.join(files[:MAX_NAMES]) + more


def leave_out_unreadable(dataset) -> List[str]:
    """Drop from ``dataset`` the samples whose file the probe finds unreadable; return those.

    The probe (:func:`~ms_plugin.datasets.probe.sample_problems`, without
    decoding) reads the file headers. :class:`InputError` when none can be read.
    """
    keep, left_out = [], []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        problems = sample_problems(info)
        if not problems:
            keep.append(index)
            continue
        print_log(f'leaving out an unreadable video: {sample_source(info)}: '
                  f'{"; ".join(problems)}', logger='current', level=logging.WARNING)
        left_out.append(sample_source(info))
    if left_out and not keep:
        raise InputError(
            f'none of the {len(left_out)} videos can be read (first: {left_out[0]}); '
            'check data_prefix, the annotation file and the pipeline')
    if left_out:
        dataset.get_subset_(keep)
    return left_out


def _resize_sampler(sampler, dataset) -> None:
    """Recompute a DefaultSampler's sizes after its dataset shrank."""
    if all(hasattr(sampler, key) for key in ('shuffle', 'seed', 'round_up', 'epoch')):
        epoch = sampler.epoch
        # The sampler's own constructor, so that its size formulas are not repeated here.
        type(sampler).__init__(sampler, dataset, shuffle=sampler.shuffle, seed=sampler.seed,
                               round_up=sampler.round_up)
        sampler.epoch = epoch


@HOOKS.register_module()
class UnreadableVideoHook(Hook):
    """What an unreadable video does, per loop; counts and reports them.

    * Training: ``'skip'`` logs every epoch how many videos were skipped
      (naming them) and records the scalar ``train/skipped_videos``;
      ``'raise'`` stops the run at the first, naming it.
    * Validation and testing: ``'raise'`` stops at the first, naming it;
      ``'leave_out'`` probes every video once before the first evaluation,
      leaves out the unreadable ones (a warning names each) and adds
      ``left_out_videos`` next to the metrics. ``'skip'`` is refused: a
      test-mode dataset cannot fetch another sample.

    Args:
        train_on_error (str, optional): ``'skip'`` or ``'raise'`` for the
            training pipeline's guards; None keeps theirs. Defaults to None.
        val_on_error (str, optional): ``'raise'`` or ``'leave_out'``; None
            keeps the guards' own. Defaults to None.
        test_on_error (str, optional): The same for testing. Defaults to None.
    """

    priority = 'NORMAL'  # before LoggerHook, so that left_out_videos is logged with the metric

    def __init__(self, train_on_error: Optional[str] = None,
                 val_on_error: Optional[str] = None,
                 test_on_error: Optional[str] = None) -> None:
        for name, value, allowed in (('train_on_error', train_on_error, ('skip', 'raise')),
                                     ('val_on_error', val_on_error, ('raise', 'leave_out')),
                                     ('test_on_error', test_on_error, ('raise', 'leave_out'))):
            if value is not None and value not in allowed:
                raise InputError(f'{name} must be one of {allowed} or None, not {value!r}')
        self.on_error = dict(train=train_on_error, val=val_on_error, test=test_on_error)
        self._seen: Dict[int, int] = {}  # id(guard) -> ledger lines already reported
        self._left_out: Dict[int, List[str]] = {}  # id(dataset) -> files left out

    def _apply_policy(self, dataset, stage: str) -> List[UnreadableVideoGuard]:
        guards = find_guards(dataset)
        for guard in guards:
            if self.on_error[stage] is not None:
                guard.on_error = self.on_error[stage]
            assert guard.on_error in ON_ERROR
        return guards

    # ------------------------------------------------------------- training
    def before_train(self, runner) -> None:
        loader = runner.train_loop.dataloader
        before = [g.on_error for g in find_guards(loader.dataset)]
        after = [g.on_error for g in self._apply_policy(loader.dataset, 'train')]
        if (before != after and loader.num_workers > 0
                and isinstance(runner.train_loop, IterBasedTrainLoop)):
            # Its workers started when the loop was built, with the pipeline's setting.
            raise InputError(
                'UnreadableVideoHook(train_on_error=...) cannot reach the workers of an '
                'IterBasedTrainLoop, which start before any hook runs: set on_error on the '
                'UnreadableVideoGuard steps of the training pipeline instead.')
        if any(g.on_error == 'leave_out' for g in find_guards(loader.dataset)):
            raise InputError('on_error="leave_out" is for validation and testing; training '
                             'uses "skip" or "raise"')

    def after_train_epoch(self, runner) -> None:
        events = []  # one per skip: a video drawn twice (or failing in two guards) is two
        for guard in find_guards(runner.train_loop.dataloader.dataset):
            new = guard.skipped(self._seen.get(id(guard), 0))
            self._seen[id(guard)] = self._seen.get(id(guard), 0) + len(new)
            events.extend(new)
        skipped = list(dict.fromkeys(events))  # distinct videos, in the order first seen
        runner.message_hub.update_scalar(SKIPPED_SCALAR, len(skipped))
        message = f'Epoch {runner.epoch + 1}: {len(skipped)} unreadable video(s) skipped'
        if skipped:
            times = f' ({len(events)} times)' if len(events) > len(skipped) else ''
            print_log(f'{message}{times}: {_names(skipped)}', logger='current',
                      level=logging.WARNING)
        else:
            print_log(message, logger='current')

    # ---------------------------------------------------- validation, testing
    def before_val(self, runner) -> None:
        self._prepare(runner.val_loop.dataloader, 'val')

    def before_test(self, runner) -> None:
        self._prepare(runner.test_loop.dataloader, 'test')

    def after_val_epoch(self, runner, metrics: Optional[Dict] = None) -> None:
        self._report(runner, runner.val_loop.dataloader.dataset, metrics, 'val')

    def after_test_epoch(self, runner, metrics: Optional[Dict] = None) -> None:
        self._report(runner, runner.test_loop.dataloader.dataset, metrics, 'test')

    def _prepare(self, dataloader, stage: str) -> None:
        dataset = dataloader.dataset
        guards = self._apply_policy(dataset, stage)
        if any(g.on_error == 'skip' for g in guards):
            raise InputError(
                f'UnreadableVideoGuard(on_error="skip") in the {stage} pipeline: a test-mode '
                'dataset cannot fetch another sample. Use "raise" (stop at an unreadable '
                'video) or "leave_out" (leave it out and report the count).')
        if id(dataset) in self._left_out or not any(g.on_error == 'leave_out' for g in guards):
            return
        left_out = [path for _, data in leaf_datasets(dataset) if find_guards(data)
                    for path in leave_out_unreadable(data)]
        if left_out:
            _resize_sampler(dataloader.sampler, dataset)
            print_log(f'{stage}: {len(left_out)} unreadable video(s) left out: '
                      f'{_names(left_out)}', logger='current', level=logging.WARNING)
        self._left_out[id(dataset)] = left_out

    def _report(self, runner, dataset, metrics: Optional[Dict], stage: str) -> None:
        if id(dataset) in self._left_out:
            count = len(self._left_out[id(dataset)])
            if metrics is not None:  # what runner.val()/test() return
                metrics[LEFT_OUT_KEY] = count
            # LoggerHook prints the message hub's scalars: the count next to the metrics
            runner.message_hub.update_scalar(f'{stage}/{LEFT_OUT_KEY}', count)
