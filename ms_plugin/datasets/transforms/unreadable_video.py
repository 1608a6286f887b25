"""Reading a video that may be missing, empty, truncated or undecodable.

:class:`UnreadableVideoGuard` wraps a pipeline's steps that open or decode
(``DecordInit``, ``DecordDecode``, ``RawFrameDecode``), one guard around each,
so the samplers stay top-level steps. When a wrapped step raises, the guard
names the file and why (:mod:`ms_plugin.datasets.probe`), then stops the run or
skips the video (``None``: MMEngine's dataset fetches another sample; training
only). It runs in the DataLoader workers, so it records skipped files in a
ledger file that :class:`~ms_plugin.engine.UnreadableVideoHook` reads.
"""
import atexit
import logging
import os
import tempfile
import uuid
from typing import Dict, List, Optional, Sequence

from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform
from mmengine.dataset import Compose
from mmengine.logging import print_log

from ...utils.errors import InputError
from ..probe import sample_problems

ON_ERROR = ('skip', 'raise', 'leave_out')
# results keys that name what a sample was read from, in the order tried
SOURCE_KEYS = ('filename', 'frame_dir', 'img_path')

__all__ = ['UnreadableVideoGuard', 'ON_ERROR', 'sample_source']


def sample_source(results: Dict) -> str:
    """The file or folder a sample is read from, for messages."""
    for key in SOURCE_KEYS:
        if results.get(key):
            return str(results[key])
    return '<unknown file>'


def _remove(path: str, owner_pid: int) -> None:
    if os.getpid() == owner_pid and os.path.exists(path):
        os.remove(path)


@TRANSFORMS.register_module()
class UnreadableVideoGuard(BaseTransform):
    """Run the transforms that read a video; act on a video they cannot read.

    Example (a pipeline's first steps)::

        dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordInit')]),
        dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=8),
        dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordDecode')]),

    Args:
        transforms (list[dict]): The reading transforms, run in order.
        on_error (str): What an exception in them does: ``'skip'``: warn,
            record the file and return ``None`` (training); ``'raise'``: stop
            with :class:`~ms_plugin.utils.errors.InputError` naming the file;
            ``'leave_out'`` (validation, testing): ``UnreadableVideoHook``
            probes every file before the loop and leaves out the unreadable
            ones; a failure the probe did not see still stops the run.
            Defaults to ``'raise'``.
    """

    def __init__(self, transforms: Sequence[Dict], on_error: str = 'raise') -> None:
        if on_error not in ON_ERROR:
            raise InputError(f'on_error must be one of {ON_ERROR}, not {on_error!r}')
        self.on_error = on_error
        self.transforms = Compose([TRANSFORMS.build(t) if isinstance(t, dict) else t
                                   for t in transforms])
        # Appended to by the workers, read by the hook: a path survives pickling.
        # It exists once a video is skipped, so a clean run leaves nothing behind.
        self.ledger = os.path.join(tempfile.gettempdir(),
                                   f'ms_plugin_skipped_{uuid.uuid4().hex}.txt')
        atexit.register(_remove, self.ledger, os.getpid())

    def read(self, results: Dict) -> Dict:
        """Run the reading transforms; raise :class:`InputError` saying why, by the probe."""
        try:
            out = self.transforms(results)
        except Exception as err:  # decoders raise many types (RuntimeError, OSError, ...)
            why = sample_problems(results, decode=bool(results.get('frame_dir')))
            text = '; '.join(why + [' '.join(f'{type(err).__name__}: {err}'.split())])
            raise InputError(f'cannot read {sample_source(results)}: {text}') from err
        if out is None:
            raise InputError(f'cannot read {sample_source(results)}: a reading transform '
                             'returned None')
        return out

    def transform(self, results: Dict) -> Optional[Dict]:
        if self.on_error != 'skip':
            return self.read(results)
        try:
            return self.read(results)
        except InputError as err:
            print_log(f'skipping an unreadable video: {err}', logger='current',
                      level=logging.WARNING)
            with open(self.ledger, 'a') as ledger:
                ledger.write(sample_source(results).replace('\n', ' ') + '\n')
            return None

    def skipped(self, start: int = 0) -> List[str]:
        """Files skipped so far (from the ``start``-th on), in the order seen."""
        if not os.path.exists(self.ledger):
            return []
        with open(self.ledger) as ledger:
            return ledger.read().splitlines()[start:]

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(on_error={self.on_error!r}, '
                f'transforms={self.transforms!r})')
