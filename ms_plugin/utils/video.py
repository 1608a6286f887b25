"""The one video writer of the package: tools, the demo's data and the tests use it."""
import os.path as osp
from typing import Sequence

import cv2
import numpy as np

__all__ = ['write_video', 'VIDEO_CODECS']

# OpenCV fourcc per suffix: MPEG-4 Part 2 (decord and every OpenCV build with
# FFmpeg read it) and Motion-JPEG.
VIDEO_CODECS = {'.mp4': 'mp4v', '.avi': 'MJPG'}


def write_video(path: str, frames: Sequence[np.ndarray], fps: float = 8,
                channel_order: str = 'rgb') -> str:
    """Write uint8 frames ``[T, H, W, 3]`` as an ``.mp4`` or ``.avi`` file.

    Args:
        path (str): Output file; its suffix picks the codec (:data:`VIDEO_CODECS`).
        frames (Sequence[np.ndarray]): ``T`` frames ``[H, W, 3]`` of one size.
        fps (float): Frames per second. Defaults to 8.
        channel_order (str): ``'rgb'`` or ``'bgr'`` (OpenCV's). Defaults to ``'rgb'``.

    Returns:
        str: ``path``.

    Raises:
        ValueError: For an unknown suffix, no frames, or frames of other sizes.
        RuntimeError: If this OpenCV build cannot write that codec.
    """
    suffix = osp.splitext(path)[1].lower()
    if suffix not in VIDEO_CODECS:
        raise ValueError(f'write_video writes {sorted(VIDEO_CODECS)} files, not {path!r}.')
    if channel_order not in ('rgb', 'bgr'):
        raise ValueError(f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}.")
    if len(frames) == 0:
        raise ValueError(f'no frames to write to {path}.')
    height, width = frames[0].shape[:2]
    if any(frame.shape != frames[0].shape for frame in frames):
        raise ValueError(f'the frames for {path} differ in size; resize them to one size.')
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*VIDEO_CODECS[suffix]), fps,
                             (width, height))
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV cannot write {suffix} files ({path}); install an '
                           'opencv-python build with FFmpeg, or write a .gif.')
    try:
        for frame in frames:
            frame = frame[..., ::-1] if channel_order == 'rgb' else frame  # RGB -> BGR
            writer.write(np.ascontiguousarray(frame, dtype=np.uint8))
    finally:
        writer.release()
    return path
