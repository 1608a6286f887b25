"""The one probe per kind of input: a video file, a folder of frames.

Each probe returns why an input cannot be used, one line per problem (empty:
fine). Without ``decode`` it reads what opening reads; with ``decode`` it
decodes every frame and compares the count with the container's header (read
by OpenCV; decord rebuilds its index from what a cut file holds). FFmpeg's
lines on stderr are errors (decord sets FFmpeg's log level to errors); they are
read from file descriptor 2. Used by ``tools/data/check_dataset.py``, the
``UnreadableVideoGuard``, ``UnreadableVideoHook``'s leave-out and clip loading.
"""
from __future__ import annotations

import contextlib
import os
import os.path as osp
import re
import string
import sys
import tempfile
from typing import Iterator, List, Optional

import cv2
import decord
import numpy as np

__all__ = ['captured_stderr', 'video_problems', 'frame_folder_problems', 'sample_problems']

# decord's own messages start with a time and a source position: "[14:51:10] src/x.cc:486: "
DECORD_PREFIX = re.compile(r'\[\d\d:\d\d:\d\d\] \S+:\d+: ')
MAX_NAMES = 5  # missing frame files named in one message


@contextlib.contextmanager
def captured_stderr() -> Iterator[List[str]]:
    """The lines written to file descriptor 2 in the block (C libraries too), at its end."""
    lines: List[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield lines
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines.extend(line for line in tmp.read().decode(errors='replace').splitlines()
                         if line.strip() and not DECORD_PREFIX.match(line))


def _short(err: Exception) -> str:
    return DECORD_PREFIX.sub('', ' '.join(str(err).split()))[-200:]


def _decoder_errors(lines: List[str]) -> List[str]:
    more = f' (+{len(lines) - 1} more line(s))' if len(lines) > 1 else ''
    return [f'decoder errors: {lines[0].strip()}{more}'] if lines else []


def _header_frame_count(path: str) -> int:
    """The frame count of the container's header (estimated from the duration for webm)."""
    capture = cv2.VideoCapture(path)
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))  # 0 when it does not open
    capture.release()
    return count


def _frames_that_decode(path: str) -> int:
    reader, decoded = decord.VideoReader(path, num_threads=1), 0
    with contextlib.suppress(Exception):
        for _ in range(len(reader)):  # in order: no seek per frame
            reader.next()
            decoded += 1
    return decoded


def video_problems(path: str, decode: bool = False) -> List[str]:
    """Why the video file ``path`` cannot be used, or an empty list.

    ``decode`` also decodes every frame: fewer frames than the header declares
    and the decoder's errors are reported (the container's, met when opening,
    either way). Messages start ``'no such file'``, ``'the file is empty'``,
    ``'cannot be opened: '``, ``'the container declares no frames'``,
    ``'decodes N of the M frames ...'`` or ``'decoder errors: '``.
    """
    if not osp.isfile(path):
        return ['no such file']
    if osp.getsize(path) == 0:
        return ['the file is empty']
    decoded = None
    with captured_stderr() as log:  # also keeps FFmpeg's lines off a progress bar
        try:
            reader = decord.VideoReader(path, num_threads=1)
            indexed = len(reader)
            if decode:
                decoded = 0
                reader.skip_frames(indexed - 1)  # decodes them, without converting to RGB
                reader.next()
                decoded = indexed
        except Exception as err:  # decord raises DECORDError (a RuntimeError) and others
            if decoded is None:
                return [f'cannot be opened: {_short(err)}']
            decoded = _frames_that_decode(path)
        del reader
        declared = _header_frame_count(path) if decode else indexed
    problems = [] if indexed else ['the container declares no frames']
    errors = _decoder_errors(log)  # opening reads every packet: the container's errors too
    # One frame short without any error is the rounding of a count that the
    # header gives as a duration (webm), not damage.
    if decode and decoded < declared - (0 if errors else 1):
        problems.append(f'decodes {decoded} of the {declared} frames its header declares')
    return problems + errors


def _frame_names(tmpl: str, index: int, modality: str) -> List[str]:
    return [tmpl.format('x', index), tmpl.format('y', index)] if modality == 'Flow' else [
        tmpl.format(index)]


def _indices_on_disk(names: set, tmpl: str, modality: str) -> List[int]:
    """The frame indices whose files (both of a flow pair) are in ``names``."""
    pattern = ''.join(re.escape(literal) + ('' if field is None else r'(\w+?)')
                      for literal, field, _, _ in string.Formatter().parse(tmpl))
    matches = [re.fullmatch(pattern, name) for name in names]
    found = {int(m.groups()[-1]) for m in matches if m and m.groups() and m.groups()[-1].isdigit()}
    return sorted(i for i in found
                  if all(n in names for n in _frame_names(tmpl, i, modality)))


def frame_folder_problems(folder: str, filename_tmpl: str = 'img_{:05}.jpg',
                          total_frames: Optional[int] = None, start_index: int = 1,
                          offset: int = 0, modality: str = 'RGB',
                          decode: bool = False) -> List[str]:
    """Why a folder of frames does not hold the frames it should, or an empty list.

    The arguments are those of ``RawframeDataset`` and ``RawFrameDecode``;
    ``total_frames`` None expects the frames from ``start_index`` to the last on
    disk; ``offset`` is added to each index (a line that names a segment of the
    folder). Problems: missing frames (named, with the folder's real count),
    more frames than the list says, or (``decode``) a frame that does not decode.
    """
    if not osp.isdir(folder):
        return ['no such folder']
    names = set(os.listdir(folder))
    on_disk = _indices_on_disk(names, filename_tmpl, modality)
    first = start_index + offset
    total = int(total_frames) if total_frames is not None else (
        max(on_disk) - first + 1 if on_disk and max(on_disk) >= first else 0)
    expected = [name for i in range(first, first + total)
                for name in _frame_names(filename_tmpl, i, modality)]
    missing = [name for name in expected if name not in names]
    if missing or not expected:
        listed = 'the list says' if total_frames is not None else 'it should hold'
        more = f' and {len(missing) - MAX_NAMES} more' if len(missing) > MAX_NAMES else ''
        what = f': {", ".join(missing[:MAX_NAMES])}{more} missing' if missing else ''
        return [f'{listed} {total} frames, the folder has {len(on_disk)}{what}']
    if offset == 0 and total_frames is not None and len(on_disk) > total:
        return [f'the list says {total} frames, the folder has {len(on_disk)}']
    if not decode:
        return []
    with captured_stderr() as log:  # libjpeg warns about damaged data on stderr
        for name in expected:
            data = np.fromfile(osp.join(folder, name), np.uint8)
            if not data.size:
                return [f'frame {name}: the file is empty']
            if cv2.imdecode(data, cv2.IMREAD_UNCHANGED) is None:
                return [f'frame {name}: not a decodable image']
    return _decoder_errors(log)


def sample_problems(info: dict, decode: bool = False) -> List[str]:
    """The probe of a dataset record (``get_data_info``): its ``frame_dir`` or its video
    ``filename``; a record with neither has no problem."""
    if info.get('frame_dir'):
        return frame_folder_problems(
            info['frame_dir'], info.get('filename_tmpl') or 'img_{:05}.jpg',
            info.get('total_frames'), info.get('start_index', 1), info.get('offset') or 0,
            info.get('modality') or 'RGB', decode)
    return video_problems(info['filename'], decode) if info.get('filename') else []
