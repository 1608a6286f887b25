"""A progress bar of training and testing, drawn by a hook of the Runner.

The bar follows the Runner's iterations as they happen (no log text is
read): one bar over all training iterations, with the epoch and the last loss,
and one over the test batches. Without a terminal the bars are off and, if
``on_epoch`` is given, it is called once per epoch instead (e.g. to print
a line).
"""
import sys
import time
from typing import Callable, Optional, TextIO

from mmengine.hooks import Hook
from tqdm import tqdm

__all__ = ['ProgressBarHook']


class ProgressBarHook(Hook):
    """Draw tqdm bars of the training iterations and the test batches.

    Given in ``custom_hooks`` as an object, the hook is shared by the copies
    that the Runner makes of its config (``__deepcopy__`` returns it), so the
    caller keeps the one that draws.

    Args:
        desc (str): Prefix of the bars. Defaults to ''.
        file (TextIO, optional): Where the bars go. Defaults to None
            (``sys.stderr`` when the hook is made).
        disable (bool, optional): No bars. Defaults to None (off unless
            ``file`` is a terminal).
        on_epoch (Callable, optional): Called after each training epoch as
            ``on_epoch(epoch, max_epochs, loss, seconds)`` (1-based epoch,
            the loss as the log shows it after the epoch's last iteration,
            seconds since training began).
            Defaults to None.
    """

    priority = 'VERY_LOW'

    def __init__(self, desc: str = '', file: Optional[TextIO] = None,
                 disable: Optional[bool] = None,
                 on_epoch: Optional[Callable[[int, int, float, float], None]] = None) -> None:
        self.desc = desc
        self.file = file if file is not None else sys.stderr
        self.disable = (not self.file.isatty()) if disable is None else disable
        self.on_epoch = on_epoch
        self.bar: Optional[tqdm] = None
        # Counted here too: a disabled bar counts nothing.
        self.done = self.total = 0
        self.loss = float('nan')
        self.start = time.time()

    def __deepcopy__(self, memo: dict) -> 'ProgressBarHook':
        return self

    def __repr__(self) -> str:
        # The Runner writes its config out as Python: this is the hook's entry
        # there (the console it draws on is not part of a config).
        return f'dict(type={type(self).__name__!r}, desc={self.desc!r})'

    def _open(self, total: int, what: str, unit: str) -> None:
        self.done, self.total = 0, total
        self.bar = tqdm(total=total, desc=f'{self.desc} {what}'.strip(), unit=unit,
                        file=self.file, dynamic_ncols=True, leave=False, disable=self.disable)

    def _step(self, postfix: Optional[str] = None) -> None:
        self.done += 1
        if postfix is not None:
            self.bar.set_postfix_str(postfix, refresh=False)
        self.bar.update(1)

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def before_train(self, runner) -> None:
        self.start = time.time()
        self._open(runner.max_iters, 'train', 'it')

    def _loss(self, runner, outputs) -> float:
        """The loss as the Runner's log shows it: averaged over ``log_processor.window_size``."""
        hub = getattr(runner, 'message_hub', None)
        if hub is not None and 'train/loss' in hub.log_scalars:
            window = getattr(getattr(runner, 'log_processor', None), 'window_size', 1)
            history = hub.get_scalar('train/loss')
            return float(history.mean(window) if isinstance(window, int) else
                         history.current())
        return float(outputs['loss']) if outputs and 'loss' in outputs else self.loss

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self.loss = self._loss(runner, outputs)
        self._step(f'epoch {runner.epoch + 1}/{runner.max_epochs}, loss {self.loss:.3f}')

    def after_train_epoch(self, runner) -> None:
        if self.on_epoch is not None:
            self.on_epoch(runner.epoch + 1, runner.max_epochs, self.loss,
                          time.time() - self.start)

    def after_train(self, runner) -> None:
        self._close()

    def before_test(self, runner) -> None:
        self._open(len(runner.test_dataloader), 'test', 'batch')

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._step()

    def after_test(self, runner) -> None:
        self._close()
