"""Write a figure (PNG/JPEG) or an animation (GIF, MP4/AVI) of motion figures."""
import os.path as osp
from typing import Sequence, Union

import numpy as np
from PIL import Image

from ..utils.video import write_video

__all__ = ['ANIMATION_SUFFIXES', 'IMAGE_SUFFIXES', 'write_images']

ANIMATION_SUFFIXES = ('.gif', '.mp4', '.avi')
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg')


def write_images(path: str, images: Union[np.ndarray, Sequence[np.ndarray]], fps: float = 2.0
                 ) -> str:
    """Write one image (PNG/JPEG) or an animation (GIF via PIL, MP4/AVI via cv2).

    Args:
        path (str): Output file; its suffix picks the format.
        images (np.ndarray | list[np.ndarray]): One ``uint8 [H, W, 3]`` image,
            or a list of same-sized ones for an animation.
        fps (float): Animation frames per second. Defaults to 2.0.

    Returns:
        str: ``path``.
    """
    suffix = osp.splitext(path)[1].lower()
    images = [images] if isinstance(images, np.ndarray) else list(images)
    if suffix in IMAGE_SUFFIXES:
        if len(images) != 1:
            raise ValueError(f'{path} is a single image; give one image or use .gif/.mp4')
        Image.fromarray(images[0]).save(path)
    elif suffix == '.gif':
        frames = [Image.fromarray(image) for image in images]
        frames[0].save(path, save_all=True, append_images=frames[1:],
                       duration=int(round(1000 / fps)), loop=0)
    elif suffix in ('.mp4', '.avi'):
        # Many codecs need even frame sizes: pad with white.
        write_video(path, [np.pad(image, ((0, image.shape[0] % 2), (0, image.shape[1] % 2),
                                          (0, 0)), constant_values=255) for image in images],
                    fps=fps)
    else:
        raise ValueError(f'unknown output type {suffix!r} for {path}: use one of '
                         f'{IMAGE_SUFFIXES + ANIMATION_SUFFIXES}')
    return path
