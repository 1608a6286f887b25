"""A hook for fault-injection tests, imported by training subprocesses (not a test module).

``PauseHook`` stops a training process at a chosen iteration: it writes a
marker file and sleeps, so that the test can kill the process at a known
point with SIGKILL, as a scheduler's pre-emption would.
"""
import time
from pathlib import Path

from mmaction.registry import HOOKS
from mmengine.hooks import Hook


@HOOKS.register_module()
class PauseHook(Hook):
    """Before iteration ``at_iter`` (0-based, counted over the run), write ``marker`` and wait.

    Args:
        at_iter (int): Iterations completed when the process pauses.
        marker (str): File written when it pauses.
        seconds (float): How long it waits before going on. Defaults to 600.
    """

    def __init__(self, at_iter: int, marker: str, seconds: float = 600) -> None:
        self.at_iter, self.marker, self.seconds = at_iter, marker, seconds

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if runner.iter == self.at_iter:
            Path(self.marker).write_text(f'{runner.epoch} {batch_idx}\n')
            time.sleep(self.seconds)
