"""Reading a video that may be missing, empty, truncated or undecodable.

:class:`UnreadableVideoGuard` wraps the transforms that open or decode a
video (``DecordInit``, ``DecordDecode``, or ``RawFrameDecode`` for frame
folders); a pipeline has one guard around each, so that the samplers stay
top-level steps, where tools and configs look for them. When a wrapped
transform raises, the guard names the file and, depending on ``on_error``
(which :class:`~ms_plugin.engine.UnreadableVideoHook` can set per loop), stops
the run or skips the video. Skipping returns
``None``: MMEngine's ``BaseDataset.__getitem__`` then fetches another sample
(training only; a test-mode dataset raises instead, which is why validation
and testing use ``'raise'`` or ``'leave_out'``).

The guard runs in the DataLoader workers, so it records each skipped file in a
small ledger file that :class:`~ms_plugin.engine.UnreadableVideoHook` reads in
the main process to log the count every epoch.
"""
import atexit
import logging
import os
import tempfile
import uuid
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform
from mmengine.dataset import Compose
from mmengine.logging import print_log

ON_ERROR = ('skip', 'raise', 'leave_out')
# results keys that name what a sample was read from, in the order tried
SOURCE_KEYS = ('filename', 'frame_dir', 'img_path')

__all__ = [
    'UnreadableVideoError', 'UnreadableVideoGuard', 'ON_ERROR', 'sample_source', 'frame_files',
    'frame_error'
]


class UnreadableVideoError(RuntimeError):
    """A video (or frame folder) that cannot be read; the message names it."""


def sample_source(results: Dict) -> str:
    """The file or folder a sample is read from, for messages."""
    for key in SOURCE_KEYS:
        if results.get(key):
            return str(results[key])
    return '<unknown file>'


def frame_files(results: Dict, frame_inds: Optional[Sequence[int]] = None) -> List[str]:
    """The frame files ``RawFrameDecode`` reads for a sample, in order, without repeats.

    Args:
        results (dict): The sample: ``frame_dir``, ``filename_tmpl``,
            ``modality`` and, unless ``frame_inds`` is given, ``frame_inds``
            (``offset`` is added as ``RawFrameDecode`` adds it).
        frame_inds (Sequence[int], optional): Frame indices to use instead.

    Returns:
        list[str]: Paths (both of a flow pair, ``x`` first).
    """
    inds = results.get('frame_inds', ()) if frame_inds is None else frame_inds
    offset = results.get('offset', 0)
    tmpl, folder = results.get('filename_tmpl', '{:05}.jpg'), results['frame_dir']
    names = []
    for index in dict.fromkeys(int(i) + offset for i in np.ravel(inds)):
        if results.get('modality', 'RGB') == 'Flow':
            names += [tmpl.format('x', index), tmpl.format('y', index)]
        else:
            names.append(tmpl.format(index))
    return [os.path.join(folder, name) for name in names]


def frame_error(path: str) -> Optional[str]:
    """Why a frame file cannot be read (missing, empty, not decodable), or None."""
    if not os.path.isfile(path):
        return 'no such file'
    with open(path, 'rb') as f:
        data = f.read()
    if not data:
        return 'the file is empty'
    if cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) is None:
        return 'not a decodable image'
    return None


def _one_line(err: Exception) -> str:
    return ' '.join(f'{type(err).__name__}: {err}'.split())


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
        on_error (str): What an exception in them does:
            ``'skip'``: warn with the file's name, record it, and return
            ``None`` so that the training dataset fetches another sample;
            ``'raise'``: stop with :class:`UnreadableVideoError` naming the
            file; ``'leave_out'`` (validation, testing): ``UnreadableVideoHook``
            reads every video once before the loop and leaves out the
            unreadable ones, reporting their number next to the metric; a
            failure the check did not see still stops the run.
            Defaults to ``'raise'``.
    """

    def __init__(self, transforms: Sequence[Dict], on_error: str = 'raise') -> None:
        if on_error not in ON_ERROR:
            raise ValueError(f'on_error must be one of {ON_ERROR}, not {on_error!r}')
        self.on_error = on_error
        self.transforms = Compose([TRANSFORMS.build(t) if isinstance(t, dict) else t
                                   for t in transforms])
        # Written by the worker processes (append, one line per skipped file),
        # read by the hook in the main process. A path survives pickling and
        # copying, where a shared-memory counter would not. Only named here:
        # the file exists once a video is skipped, so a run that skips
        # nothing (or is killed) leaves nothing behind.
        self.ledger = os.path.join(tempfile.gettempdir(),
                                   f'ms_plugin_skipped_{uuid.uuid4().hex}.txt')
        atexit.register(_remove, self.ledger, os.getpid())

    def read(self, results: Dict) -> Dict:
        """Run the reading transforms; raise :class:`UnreadableVideoError` on failure."""
        source = sample_source(results)
        try:
            out = self.transforms(results)
        except Exception as err:  # decoders raise many types (RuntimeError, OSError, ...)
            raise UnreadableVideoError(
                f'cannot read {source}: {self._which_frame(results)}{_one_line(err)}') from err
        if out is None:
            raise UnreadableVideoError(f'cannot read {source}: a reading transform '
                                       'returned None')
        return out

    @staticmethod
    def _which_frame(results: Dict) -> str:
        """For a frame folder: the first of the sample's frames that cannot be read."""
        if not results.get('frame_dir') or 'frame_inds' not in results:
            return ''
        for path in frame_files(results):
            reason = frame_error(path)
            if reason:
                return f'frame {path}: {reason}; '
        return ''

    def transform(self, results: Dict) -> Optional[Dict]:
        if self.on_error != 'skip':
            return self.read(results)
        try:
            return self.read(results)
        except UnreadableVideoError as err:
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
