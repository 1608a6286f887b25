"""The one probe per kind of input: a video file, a folder of frames.

Each probe says why an input cannot be used, as a list of one-line messages
(empty when it is fine). Without ``decode`` only what opening reads is
checked (cheap: the file exists, is not empty, opens and declares frames; a
folder holds the frames its list line says). With ``decode`` every frame is
decoded and damaged files that still open are found: fewer frames than the
container's header declares (read by OpenCV, not decord's index, which decord
rebuilds from what it finds in a cut file), and FFmpeg's error lines, which
decord prints on stderr from C code and goes on (decord sets FFmpeg's log level
to errors, so every such line is one), read from file descriptor 2.

Callers: ``tools/data/check_dataset.py`` (:mod:`.check_files`), the
:class:`~ms_plugin.datasets.transforms.UnreadableVideoGuard` (to say why a
read failed), the leave-out step of
:class:`~ms_plugin.engine.UnreadableVideoHook`, and clip loading.
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
    """Collect what is written to file descriptor 2 in the block, C libraries included.

    Yields:
        list[str]: Filled with the non-empty lines when the block ends.
    """
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
    text = DECORD_PREFIX.sub('', ' '.join(str(err).split()))
    return text[-200:] if len(text) > 200 else text


def _decoder_errors(lines: List[str]) -> List[str]:
    if not lines:
        return []
    more = f' (+{len(lines) - 1} more line(s))' if len(lines) > 1 else ''
    return [f'decoder errors: {lines[0].strip()}{more}']


def _header_frame_count(path: str) -> int:
    """The frame count of the container's header (estimated from the duration for webm)."""
    capture = cv2.VideoCapture(path)
    try:
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    finally:
        capture.release()


def video_problems(path: str, decode: bool = False) -> List[str]:
    """Why a video file cannot be used, or an empty list.

    Args:
        path (str): The video file.
        decode (bool): Also decode every frame; report fewer frames than the
            header declares, and the decoder's errors with the container's
            (those of opening are reported either way). Defaults to False.

    Returns:
        list[str]: One message per problem, starting with ``'no such file'``,
        ``'the file is empty'``, ``'cannot be opened: '``, ``'the container
        declares no frames'``, ``'decodes N of the M frames ...'`` or
        ``'decoder errors: '``.
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
                for _ in range(indexed):  # in order: no seek per frame
                    reader.next()
                    decoded += 1
        except Exception as err:  # decord raises DECORDError (a RuntimeError) and others
            if decoded is None:
                return [f'cannot be opened: {_short(err)}']
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
    fields = list(string.Formatter().parse(tmpl))
    pattern = ''.join(re.escape(literal) + ('' if field is None else r'(\w+?)')
                      for literal, field, _, _ in fields)
    found = set()
    for name in names:
        match = re.fullmatch(pattern, name)
        if match and match.groups() and match.groups()[-1].isdigit():
            found.add(int(match.groups()[-1]))
    return sorted(i for i in found
                  if all(n in names for n in _frame_names(tmpl, i, modality)))


def frame_folder_problems(folder: str, filename_tmpl: str = 'img_{:05}.jpg',
                          total_frames: Optional[int] = None, start_index: int = 1,
                          offset: int = 0, modality: str = 'RGB',
                          decode: bool = False) -> List[str]:
    """Why a folder of frames does not hold the frames it should, or an empty list.

    Args:
        folder (str): The frame folder.
        filename_tmpl (str): The frame file names, as ``RawframeDataset``'s.
            Defaults to ``'img_{:05}.jpg'``.
        total_frames (int, optional): The frames its list line says; None:
            as many as there are from ``start_index`` to the last on disk.
        start_index (int): The first frame's index. Defaults to 1.
        offset (int): Added to each index, as ``RawFrameDecode`` adds it (a
            list line that names a segment of the folder). Defaults to 0.
        modality (str): ``'RGB'`` or ``'Flow'`` (``x`` and ``y`` files).
            Defaults to ``'RGB'``.
        decode (bool): Also decode every frame. Defaults to False.

    Returns:
        list[str]: One message per problem: missing frames (named, with the
        folder's real count), more frames than the list says, or a frame
        that does not decode.
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
    """The probe of a dataset record: its ``frame_dir`` or its video ``filename``.

    Args:
        info (dict): A record of ``RawframeDataset`` or ``VideoDataset``
            (``get_data_info``); a record with neither key has no problem.
        decode (bool): Decode every frame. Defaults to False.
    """
    if info.get('frame_dir'):
        return frame_folder_problems(info['frame_dir'], info.get('filename_tmpl') or 'img_{:05}.jpg',
                                     info.get('total_frames'), info.get('start_index', 1),
                                     info.get('offset') or 0, info.get('modality') or 'RGB',
                                     decode)
    return video_problems(info['filename'], decode) if info.get('filename') else []
