"""Turn a video file or a folder of frames into a test clip of a config.

The config's test pipeline runs unchanged except for how frames are read: its
``*Init``/``*Decode`` steps are replaced by decord for a video file and by
``ArrayDecode`` for a folder of images (read in name order), so a config
written for mp4 files also reads frame folders and the other way round.
:func:`one_view_pipeline` cuts a test pipeline down to one view (one clip,
one crop) for figures of a single clip.
"""
import copy
import os
import os.path as osp
import warnings
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import decord
import mmaction.datasets  # noqa: F401  (registers the transforms)
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose

from ..models.naming import type_name

__all__ = [
    'Clip', 'VideoError', 'config_test_dataset', 'config_test_pipeline', 'load_clip',
    'one_view_pipeline', 'pipeline_frames', 'read_frame_folder', 'views_and_size'
]

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')
# Test-pipeline transforms that cut several crops from each frame.
_CROPS_PER_TRANSFORM = {'ThreeCrop': 3, 'TenCrop': 10}
# Test-pipeline transforms that cut one crop of ``crop_size``.
_SINGLE_CROP_TRANSFORMS = ('CenterCrop', 'ThreeCrop', 'TenCrop')
_SAMPLERS = ('SampleFrames', 'DenseSampleFrames', 'UniformSample', 'UniformSampleFrames')


class VideoError(ValueError):
    """A video that cannot be used: missing, unreadable or empty."""


class Clip(NamedTuple):
    """One sample of a test pipeline.

    Attributes:
        frames (Tensor): float32 ``[V*T, 3, H, W]``, RGB 0-255 (before normalisation).
        frame_inds (list[int]): The sampled frames' indices in the video.
    """
    frames: torch.Tensor
    frame_inds: List[int]


def _kind(step: Dict) -> str:
    return str(type_name(step) or '')


# ------------------------------------------------------------------ the config's pipeline
def config_test_dataset(cfg: Config) -> Dict:
    """The config's test dataset (else its validation one), unwrapped from
    ``RepeatDataset`` and the like; an empty dict if there is neither."""
    for loader in ('test_dataloader', 'val_dataloader'):
        dataset = (cfg.get(loader) or {}).get('dataset')
        if dataset is not None:
            while 'pipeline' not in dataset and 'dataset' in dataset:
                dataset = dataset['dataset']
            return dataset
    return {}


def config_test_pipeline(cfg: Config) -> List[Dict]:
    """A copy of the config's test pipeline: the test (else validation)
    dataset's, else ``test_pipeline`` or ``val_pipeline``."""
    pipeline = (config_test_dataset(cfg).get('pipeline') or cfg.get('test_pipeline')
                or cfg.get('val_pipeline'))
    if not pipeline:
        raise ValueError('The config has no test pipeline (test_dataloader.dataset.pipeline '
                         'or test_pipeline).')
    return copy.deepcopy(list(pipeline))


def _sampled_frames(step: Dict) -> int:
    clips = step.get('num_clips', 1) * (2 if step.get('twice_sample', False) else 1)
    return clips * step.get('clip_len', 1)


def views_and_size(pipeline: Sequence[Dict]) -> Tuple[int, Optional[Tuple[int, int]]]:
    """Frames per sample and crop size that a test pipeline produces.

    Args:
        pipeline (list[dict]): The config's test pipeline.

    Returns:
        tuple: ``(frames, (height, width))``: ``frames`` = V*T (clips x
        frames per clip x crops); the size is None when the pipeline has no
        crop of a fixed size (then it depends on the video).
    """
    frames, crops, size = 0, 1, None
    for step in pipeline:
        kind = _kind(step)
        if kind.endswith('SampleFrames'):
            frames = _sampled_frames(step)
        crops *= _CROPS_PER_TRANSFORM.get(kind, 1)
        if kind in _SINGLE_CROP_TRANSFORMS:
            crop = step.get('crop_size')
            # crop_size is an int or (w, h); size is (h, w)
            size = (crop, crop) if isinstance(crop, int) else (crop[1], crop[0])
        elif kind == 'Resize' and size is not None:
            size = None  # a resize after the crop: the size depends on it again
        if kind == 'Resize' and not step.get('keep_ratio', True):
            scale = step.get('scale')
            if isinstance(scale, (tuple, list)) and min(scale) > 0:
                size = (int(scale[1]), int(scale[0]))  # (w, h) -> (h, w)
    if frames == 0:
        warnings.warn('The test pipeline has no SampleFrames step; assuming 1 frame.')
        frames = 1
    return frames * crops, size


def one_view_pipeline(pipeline: Sequence[Dict], num_frames: int) -> List[Dict]:
    """The test pipeline reduced to one view of ``num_frames`` frames.

    ``twice_sample`` is turned off, ``DenseSampleFrames`` samples one position,
    a sampler that takes several clips of ``clip_len > 1`` takes one, and
    ``ThreeCrop``/``TenCrop`` become a ``CenterCrop`` of the same size.
    """
    steps = []
    for step in pipeline:
        step = dict(step)
        kind = _kind(step)
        if kind in _SAMPLERS:
            step['test_mode'] = True
            step.pop('twice_sample', None)
            if kind == 'DenseSampleFrames':
                step['num_sample_positions'] = 1
            clip_len = step.get('clip_len', 1)
            if clip_len > 1 and clip_len * step.get('num_clips', 1) > num_frames:
                step['num_clips'] = max(1, num_frames // clip_len)
        elif kind in _CROPS_PER_TRANSFORM:
            step = dict(type='CenterCrop', crop_size=step['crop_size'])
        steps.append(step)
    return steps


# ------------------------------------------------------------------ reading frames
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
    names = sorted(name for name in os.listdir(folder)
                   if name.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
        raise VideoError(f'found no frames in folder {folder} ({"/".join(IMAGE_EXTENSIONS)} '
                         'files); give a video file or a folder of frames.')
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
    try:
        reader = decord.VideoReader(path, num_threads=1)
        count = len(reader)
        if count:
            reader[0]
    except Exception as err:  # decord raises its own error types
        raise VideoError(f'cannot read video {path} ({type(err).__name__}: '
                         f'{str(err).splitlines()[0] if str(err) else ""}). Check that it is '
                         'a complete video file (mp4, webm, avi, ...), or give a folder of '
                         'frames instead.') from err
    if count == 0:
        raise VideoError(f'cannot read video {path}: the video has no frames.')


def load_clip(video: str, pipeline: Sequence[Dict]) -> Clip:
    """Run a test pipeline on a video file or a folder of frames.

    Args:
        video (str): A video file (anything decord reads) or a folder of
            images (frames in name order).
        pipeline (list[dict]): The config's test pipeline (or
            :func:`one_view_pipeline` of it).

    Returns:
        Clip: The frames ``[V*T, 3, H, W]`` and the sampled frame indices.

    Raises:
        VideoError: If the video is missing, unreadable or empty, or the
            pipeline fails on it.
    """
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
    frame_inds = None
    try:
        for transform in Compose(steps).transforms:
            data = transform(data)
            if data is None:
                raise VideoError(f'{video}: the test pipeline dropped it at {transform}.')
            if frame_inds is None and 'frame_inds' in data:
                frame_inds = [int(i) for i in data['frame_inds']]
    except VideoError:
        raise
    except Exception as err:
        raise VideoError(f'{video}: the test pipeline failed on it ({type(err).__name__}: '
                         f'{err}).') from err
    frames = data['inputs'].float()
    return Clip(frames, frame_inds if frame_inds is not None else list(range(len(frames))))


def pipeline_frames(video: str, pipeline: Sequence[Dict]) -> torch.Tensor:
    """The frames of :func:`load_clip`: float32 ``[V*T, 3, H, W]``, RGB 0-255."""
    return load_clip(video, pipeline).frames
