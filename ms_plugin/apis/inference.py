"""Build a recognizer from a config and a checkpoint, read a clip, score a video.

:func:`build_recognizer` builds with MMAction2's ``init_recognizer`` (eval
mode, nothing downloaded), then loads the checkpoint safely and strictly,
every key and shape checked. :func:`load_clip` runs a config's test pipeline
with only its frame reading replaced (decord for a file, ``ArrayDecode`` for
images in name order), so a config for mp4 files reads frame folders too.
"""
import copy
import os
import os.path as osp
import warnings
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import cv2
import mmaction.datasets  # noqa: F401  (registers the transforms)
import numpy as np
import torch
import torch.nn as nn
from mmaction.apis import init_recognizer
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

from ..datasets.probe import video_problems
from ..datasets.walk import leaf_datasets
from ..deployment.recognizer import reference_scores
from ..models.backbones.ms_mixin import MotionSqueezeMixin
from ..models.naming import type_name
from ..models.recognizers.msnet import DEFAULT_BACKBONE
from ..utils.checkpoint import load_weights, model_state_dict, read_checkpoint
from ..utils.errors import InputError

__all__ = ['Clip', 'RandomWeightsWarning', 'build_recognizer', 'config_test_pipeline',
           'load_clip', 'load_config', 'one_view_pipeline', 'video_scores', 'views_and_size']


class RandomWeightsWarning(UserWarning):
    """A model was built without a checkpoint: its outputs mean nothing."""


def load_config(config: Union[str, Config], cfg_options: Optional[dict] = None) -> Config:
    """``config`` (a file or a Config, copied) with ``cfg_options`` merged in.

    The registries' default scope becomes the config's (``mmaction``), so its
    models and transforms build by their names.
    """
    cfg = copy.deepcopy(config) if isinstance(config, Config) else Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    return cfg


def _has_motion_squeeze(model_cfg: dict) -> bool:
    """Whether the backbone ``model_cfg`` builds is a family with MotionSqueeze modules."""
    backbone = model_cfg.get('backbone') or {}
    kind = backbone.get('type')
    if kind is None and type_name(model_cfg) == 'MSNet':
        kind = DEFAULT_BACKBONE['type']
    backbone_class = MODELS.get(kind) if isinstance(kind, str) else kind
    return isinstance(backbone_class, type) and issubclass(backbone_class, MotionSqueezeMixin)


def _set_correlation_impl(cfg: Config, impl: str) -> None:
    """Build every MotionSqueeze module of ``cfg``'s backbone with ``correlation_impl=impl``."""
    if not _has_motion_squeeze(cfg.model):
        return
    backbone = cfg.model.setdefault('backbone', {})
    backbone['ms_cfg'] = dict(backbone.get('ms_cfg') or {}, correlation_impl=impl)


def _mismatch_hint(checkpoint: dict) -> str:
    """What to do about a checkpoint that does not fit the config's model."""
    hint = 'Use the config the checkpoint was trained with'
    try:
        keys = model_state_dict(checkpoint)
    except InputError:  # no state_dict at all
        keys = {}
    if any(str(key).startswith('base_model.') for key in keys):
        hint += ('; a checkpoint of the authors\' code must first be converted with '
                 'tools/convert_official_ckpt.py')
    return hint + '.'


def build_recognizer(config: Union[str, Config],
                     checkpoint: Optional[str] = None,
                     *,
                     cfg_options: Optional[dict] = None,
                     device: str = 'cpu',
                     correlation_impl: Optional[str] = None,
                     warn_random: bool = True) -> Tuple[nn.Module, Config]:
    """Build ``config``'s model in eval mode, with ``checkpoint``'s weights.

    Without a checkpoint the weights are the modules' constructor defaults
    (``init_weights`` is not run, so nothing is downloaded or read from
    ``pretrained``) and a :class:`RandomWeightsWarning` says so.

    Args:
        config (str | Config): The config file, or a Config (not changed).
        checkpoint (str, optional): A checkpoint of this config's model
            (MMEngine's, or a bare state_dict). Defaults to None.
        cfg_options (dict, optional): Overrides merged into the config (as
            ``--cfg-options``). Defaults to None.
        device (str): Where the model goes. Defaults to ``'cpu'``.
        correlation_impl (str, optional): How every MotionSqueeze module
            computes its correlation (``ms_cfg.correlation_impl`` of the
            backbone, e.g. ``'allpairs'`` for an ONNX export); no effect on a
            model without one. Defaults to None (the config's).
        warn_random (bool): Warn when no checkpoint is given. Defaults to True.

    Returns:
        tuple: ``(model, cfg)``, ``cfg`` being the merged config.

    Raises:
        InputError: If the checkpoint cannot be read, or does not fit the model (the message
            lists the missing and unexpected keys and the shape mismatches).
    """
    cfg = load_config(config, cfg_options)
    if correlation_impl is not None:
        _set_correlation_impl(cfg, correlation_impl)
    weights = read_checkpoint(checkpoint) if checkpoint else None
    # init_recognizer loads checkpoints leniently: the weights are loaded below.
    model = init_recognizer(copy.deepcopy(cfg), None, device=device)
    if weights is not None:
        try:
            load_weights(model, weights, checkpoint)
        except InputError as err:
            raise InputError(f'{err}\n{_mismatch_hint(weights)}') from err
    elif warn_random:
        warnings.warn(f'No checkpoint given: the weights of {cfg.filename or "the config"}\'s '
                      'model are random, so its scores mean nothing.', RandomWeightsWarning)
    return model.eval(), cfg


IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')
# Test-pipeline transforms that cut several crops from each frame.
_CROPS_PER_TRANSFORM = {'ThreeCrop': 3, 'TenCrop': 10}
# Test-pipeline transforms that cut one crop of ``crop_size``.
_SINGLE_CROP_TRANSFORMS = ('CenterCrop', 'ThreeCrop', 'TenCrop')
_SAMPLERS = ('SampleFrames', 'DenseSampleFrames', 'UniformSample', 'UniformSampleFrames')


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
    """The config's test dataset (else its validation one), the first inside
    ``RepeatDataset``, ``ConcatDataset`` and the like; an empty dict if there is neither."""
    for loader in ('test_dataloader', 'val_dataloader'):
        dataset = (cfg.get(loader) or {}).get('dataset')
        if dataset is not None:
            return leaf_datasets(dataset)[0][1]
    return {}


def config_test_pipeline(cfg: Config) -> List[Dict]:
    """A copy of the config's test pipeline: the test (else validation)
    dataset's, else ``test_pipeline`` or ``val_pipeline``."""
    pipeline = (config_test_dataset(cfg).get('pipeline') or cfg.get('test_pipeline')
                or cfg.get('val_pipeline'))
    if not pipeline:
        raise InputError('The config has no test pipeline (test_dataloader.dataset.pipeline '
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
        raise InputError(f'Expected one frame-decoding step in the test pipeline, found '
                         f'{[_kind(steps[i]) for i in decodes]}.')
    steps[decodes[0]] = decode
    return init + steps


def read_frame_folder(folder: str) -> np.ndarray:
    """The images of ``folder`` in name order, as RGB ``[F, H, W, 3]`` uint8.

    Raises:
        InputError: If the folder holds no image or an image cannot be read.
    """
    names = sorted(name for name in os.listdir(folder)
                   if name.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
        raise InputError(f'found no frames in folder {folder} ({"/".join(IMAGE_EXTENSIONS)} '
                         'files); give a video file or a folder of frames.')
    frames = []
    for name in names:
        image = cv2.imread(osp.join(folder, name), cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(f'{osp.join(folder, name)}: cannot read this image.')
        if frames and image.shape != frames[0].shape:
            raise InputError(f'{osp.join(folder, name)}: size {image.shape[:2]} differs from '
                             f'the first frame\'s {frames[0].shape[:2]}.')
        frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    return np.stack(frames)


def _check_video_file(path: str) -> None:
    """Refuse a video that cannot be opened or declares no frames (the dataset probe's
    verdict; decoder errors of a file that still opens are left to the decoder)."""
    problems = [p for p in video_problems(path) if not p.startswith('decoder errors')]
    if problems:
        raise InputError(f'cannot read video {path}: {"; ".join(problems)}. Check that it is a '
                         'complete video file (mp4, webm, avi, ...), or give a folder of '
                         'frames instead.')


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
        InputError: If the video is missing, unreadable or empty, or the
            pipeline fails on it.
    """
    if not osp.exists(video):
        raise InputError(f'{video}: no such file or folder.')
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
                raise InputError(f'{video}: the test pipeline dropped it at {transform}.')
            if frame_inds is None and 'frame_inds' in data:
                frame_inds = [int(i) for i in data['frame_inds']]
    except InputError:
        raise
    except Exception as err:
        raise InputError(f'{video}: the test pipeline failed on it ({type(err).__name__}: '
                         f'{err}).') from err
    frames = data['inputs'].float()
    return Clip(frames, frame_inds if frame_inds is not None else list(range(len(frames))))


def video_scores(model: nn.Module, video: str) -> np.ndarray:
    """Class scores of a video or frame folder for a recognizer of :func:`build_recognizer`.

    The model's config's test pipeline makes the views; the scores are
    ``pred_score`` of ``model.test_step``, averaged over the views as the
    config says.

    Returns:
        np.ndarray: ``[num_classes]`` float32.
    """
    frames = load_clip(video, config_test_pipeline(model.cfg)).frames
    return reference_scores(model, frames[None])[0].numpy()  # [1, V*T, 3, H, W] in
