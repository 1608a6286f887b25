"""Turn a video file or a folder of frames into a test batch of a config.

The config's test pipeline runs unchanged except for how frames are read:
its ``*Init``/``*Decode`` steps are replaced by decord for a video file and by
``ArrayDecode`` for a folder of images, so a config written for mp4 files
also reads frame folders and the other way round.
"""
import os
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np
import torch

__all__ = ['VideoError', 'read_frame_folder', 'pipeline_frames']

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')


class VideoError(ValueError):
    """A video that cannot be used: missing, unreadable or empty."""


def _kind(step: Dict) -> str:
    return str(step.get('type', '')).split('.')[-1]


def _reader_role(step: Dict) -> str:
    """``'init'``, ``'decode'`` or ``''``: the step's part in reading frames.

    A wrapper step (one with ``transforms``, e.g. a guard around the decoder)
    takes the role of the steps inside it.
    """
    kinds = [_kind(inner) for inner in step.get('transforms', [])] or [_kind(step)]
    if any(kind.endswith('Decode') for kind in kinds):
        return 'decode'
    if all(kind.endswith('Init') for kind in kinds):
        return 'init'
    return ''


def _swap_reader(pipeline: Sequence[Dict], init: List[Dict], decode: Dict) -> List[Dict]:
    """``pipeline`` with its frame reading replaced: ``init`` first, ``decode``
    where the pipeline decoded."""
    steps = [dict(step) for step in pipeline if _reader_role(step) != 'init']
    decodes = [i for i, step in enumerate(steps) if _reader_role(step) == 'decode']
    if len(decodes) != 1:
        raise ValueError(f'Expected one frame-decoding step in the test pipeline, found '
                         f'{[_kind(steps[i]) for i in decodes]}.')
    steps[decodes[0]] = decode
    return init + steps


def read_frame_folder(folder: str) -> np.ndarray:
    """The images of ``folder`` in name order, as RGB ``[F, H, W, 3]`` uint8.

    Raises:
        VideoError: If the folder holds no image or an image cannot be read.
    """
    import cv2
    names = sorted(name for name in os.listdir(folder)
                   if name.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
        raise VideoError(f'{folder}: no frames ({"/".join(IMAGE_EXTENSIONS)} files) in this '
                         'folder.')
    frames = []
    for name in names:
        image = cv2.imread(osp.join(folder, name), cv2.IMREAD_COLOR)
        if image is None:
            raise VideoError(f'{osp.join(folder, name)}: cannot read this image.')
        if frames and image.shape != frames[0].shape:
            raise VideoError(f'{osp.join(folder, name)}: size {image.shape[:2]} differs from '
                             f'the first frame\'s {frames[0].shape[:2]}.')
        frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    return np.stack(frames)


def _check_video_file(path: str) -> None:
    import decord
    try:
        reader = decord.VideoReader(path, num_threads=1)
        count = len(reader)
    except Exception as err:  # decord raises its own error types
        raise VideoError(f'{path}: cannot read this video ({type(err).__name__}: '
                         f'{str(err).splitlines()[0] if str(err) else ""}).') from err
    if count == 0:
        raise VideoError(f'{path}: the video has no frames.')


def pipeline_frames(video: str, pipeline: Sequence[Dict]) -> torch.Tensor:
    """Run a test pipeline on a video file or a folder of frames.

    Args:
        video (str): A video file (anything decord reads) or a folder of
            images (frames in name order).
        pipeline (list[dict]): The config's test pipeline.

    Returns:
        Tensor: float32 ``[V*T, 3, H, W]``, RGB 0-255: one sample of the
        model's input before normalisation.

    Raises:
        VideoError: If the video is missing, unreadable or empty.
    """
    import mmaction.datasets  # noqa: F401  (registers the transforms)
    from mmengine.dataset import Compose

    if not osp.exists(video):
        raise VideoError(f'{video}: no such file or folder.')
    if osp.isdir(video):
        array = read_frame_folder(video)
        steps = _swap_reader(pipeline, [], dict(type='ArrayDecode'))
        data = dict(array=array, total_frames=len(array), label=-1, start_index=0,
                    modality='RGB')
    else:
        _check_video_file(video)
        steps = _swap_reader(pipeline, [dict(type='DecordInit', num_threads=1)],
                             dict(type='DecordDecode'))
        data = dict(filename=video, label=-1, start_index=0, modality='RGB')
    try:
        packed = Compose(steps)(data)
    except VideoError:
        raise
    except Exception as err:
        raise VideoError(f'{video}: the test pipeline failed on it ({type(err).__name__}: '
                         f'{err}).') from err
    return packed['inputs'].float()
