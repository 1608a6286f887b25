"""The motion maps a model's MotionSqueeze modules compute on one clip, and their figure.

The one mechanism is :func:`ms_plugin.models.capture_motion` (a hook on every
MS module, removed when its block ends); :func:`clip_motion` runs a model on
one clip inside it, as testing does, and :func:`render_motion` draws the
result with :mod:`ms_plugin.visualization`.
"""
import os.path as osp
from typing import Dict, List, NamedTuple, Optional, Tuple

import numpy as np
import torch
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from torch import Tensor, nn

from ..models import capture_motion, motion_squeeze_modules
from ..visualization import (ANIMATION_SUFFIXES, motion_animation, motion_figure,
                             write_images)
from ..utils.errors import InputError
from .inference import config_test_pipeline, load_clip, one_view_pipeline

__all__ = ['ClipMotion', 'clip_motion', 'motion_modules', 'render_motion', 'save_motion',
           'video_motion', 'write_motion']


class ClipMotion(NamedTuple):
    """The first view of a clip and what one MotionSqueeze module saw in it.

    Attributes:
        frames (np.ndarray): ``uint8 [T, H, W, 3]`` RGB frames.
        motion (Tensor): ``[T, 3, h, w]`` (dx, dy, confidence) on the CPU,
            dx and dy in units of ``max_displacement`` cells.
        max_displacement (int): The module's ``max_displacement``.
        module (str): The module's name, e.g. ``'backbone.ms_layer2'``.
    """
    frames: np.ndarray
    motion: Tensor
    max_displacement: int
    module: str


def motion_modules(model: nn.Module) -> Dict[str, nn.Module]:
    """The MotionSqueeze modules of ``model`` by name (the model itself: its class name).

    Raises:
        InputError: If the model holds none (:func:`capture_motion`'s message).
    """
    modules = motion_squeeze_modules(model)
    if not modules:
        try:
            with capture_motion(model):  # raises: the one message for a model without MS
                pass
        except ValueError as err:
            raise InputError(str(err)) from err
    return {name or type(model).__name__: module for name, module in modules.items()}


def _forward(model: nn.Module, clip: Tensor) -> None:
    """One test-mode forward of ``clip`` [V*T, C, H, W] (pixel values, RGB)."""
    if hasattr(model, 'test_step') and hasattr(model, 'data_preprocessor'):
        # An MMEngine model: its own data preprocessor normalises and batches.
        model.test_step(dict(inputs=[clip], data_samples=[ActionDataSample()]))
    else:
        model(clip.float().to(next(model.parameters()).device))


def _clip_to_frames(clip: Tensor) -> np.ndarray:
    """[T, 3, H, W] pixel values -> uint8 [T, H, W, 3]."""
    pixels = clip.detach().float().clamp(0, 255).round().to(torch.uint8).cpu()
    return pixels.permute(0, 2, 3, 1).numpy()  # [T, 3, H, W] -> [T, H, W, 3]


@torch.no_grad()
def clip_motion(model: nn.Module, clip: Tensor, module: Optional[str] = None) -> ClipMotion:
    """Run the model on one clip as testing does; the first view's frames and motion.

    The model runs in eval mode and is left in the mode it was in.

    Args:
        model (nn.Module): An MMAction2 recognizer (its ``data_preprocessor``
            is applied, as in testing) or any module taking ``[N*T, C, H, W]``.
        clip (Tensor): ``[V*T, 3, H, W]``, what the test pipeline packs for one
            sample (V views of T frames, pixel values 0-255, RGB).
        module (str, optional): The MotionSqueeze module to read. Defaults to
            None (the first one).

    Returns:
        ClipMotion: Frames and motion of the first view (T = the module's
        ``num_segments``).

    Raises:
        ValueError: For a model without MotionSqueeze modules, an unknown
            ``module``, or a clip of another shape.
    """
    if clip.dim() != 4:
        raise ValueError(f'clip must be [V*T, C, H, W] (one sample of the test pipeline), got '
                         f'shape {tuple(clip.shape)}')
    modules = motion_modules(model)
    name = next(iter(modules)) if module is None else module
    if name not in modules:
        raise ValueError(f'no MotionSqueeze module named {name!r}; this model has '
                         f'{sorted(modules)}. Pass one of these names.')
    was_training = model.training
    model.eval()
    try:
        with capture_motion(model) as maps:
            _forward(model, clip)
    finally:
        model.train(was_training)
    # capture_motion names the model itself '' (a bare MotionSqueeze module).
    chunks = {key or type(model).__name__: value for key, value in maps.items()}[name]
    if not chunks:
        raise RuntimeError(f'MotionSqueeze module {name} did not run in the forward pass; '
                           "check that the backbone's forward calls it.")
    motion = torch.cat(chunks).float().cpu()  # [V*T, 3, h, w]
    ms = modules[name]
    num_frames = int(getattr(ms, 'num_segments', clip.shape[0]))
    if clip.shape[0] < num_frames or motion.shape[0] < num_frames:
        raise ValueError(f'the clip has {clip.shape[0]} frames but module {name!r} expects '
                         f'num_segments={num_frames}; sample the clip with that many frames.')
    # The first view only: [V*T, ...] -> [T, ...]
    return ClipMotion(_clip_to_frames(clip[:num_frames]), motion[:num_frames],
                      int(getattr(ms, 'max_displacement', 7)), name)


def render_motion(model: nn.Module, clip: Tensor, module: Optional[str] = None,
                  **kwargs) -> np.ndarray:
    """Run a model on a clip and draw what one of its MotionSqueeze modules saw.

    Args:
        model (nn.Module): See :func:`clip_motion`.
        clip (Tensor): ``[V*T, 3, H, W]`` pixel values 0-255, RGB; only the
            first view is drawn.
        module (str, optional): The module to show. Defaults to None (the first).
        **kwargs: Passed on to :func:`ms_plugin.visualization.motion_figure`.

    Returns:
        np.ndarray: ``uint8 [H', W', 3]`` image of the figure.
    """
    result = clip_motion(model, clip, module)
    kwargs.setdefault('max_displacement', result.max_displacement)
    return motion_figure(result.frames, result.motion, **kwargs)


def video_motion(model: nn.Module, cfg: Config, video: str, module: Optional[str] = None
                 ) -> Tuple[ClipMotion, List[str]]:
    """The motion of one view of ``video``, sampled as ``cfg``'s test pipeline samples it.

    Args:
        model (nn.Module): The built recognizer of ``cfg``.
        cfg (Config): Its config (the test pipeline, cut to one view of the
            module's ``num_segments`` frames: :func:`~.clip.one_view_pipeline`).
        video (str): A video file or a folder of frames.
        module (str, optional): The MotionSqueeze module. Defaults to the first.

    Returns:
        tuple: The :class:`ClipMotion`, and one title per frame pair naming
        the sampled frames (``'3 → 5'``).

    Raises:
        ValueError: Unknown module, or a pipeline that gives another frame count.
        InputError: A video that cannot be read.
    """
    modules = motion_modules(model)
    name = next(iter(modules)) if module is None else module
    if name not in modules:
        raise InputError(f'--module {name}: the model has MotionSqueeze modules '
                         f'{sorted(modules)}; pass one of these')
    num_frames = int(modules[name].num_segments)
    clip = load_clip(video, one_view_pipeline(config_test_pipeline(cfg), num_frames))
    if len(clip.frames) != num_frames:
        raise InputError(f'the one-view test pipeline gave {len(clip.frames)} frames but the '
                         f'model takes {num_frames} (num_segments); check the config\'s '
                         'SampleFrames (clip_len x num_clips)')
    inds = clip.frame_inds if len(clip.frame_inds) == num_frames else list(range(num_frames))
    titles = [f'{a} \u2192 {b}' for a, b in zip(inds[:-1], inds[1:])]
    return clip_motion(model, clip.frames, name), titles


def write_motion(result: ClipMotion, titles: List[str], out: str, fps: float = 2.0,
                 **kwargs) -> Tuple[int, Tuple[int, ...]]:
    """Write the figure (``.png``/``.jpg``) or animation (``.gif``/``.mp4``/``.avi``).

    Args:
        result (ClipMotion): What :func:`video_motion` returns.
        titles (list[str]): One per frame pair.
        out (str): The file; its suffix picks the kind.
        fps (float): Animation frames per second. Defaults to 2.
        **kwargs: ``max_magnitude``, ``interpolation``, ``title``, ``note``
            (see :func:`ms_plugin.visualization.draw_motion_figure`).

    Returns:
        tuple: The number of images written and the shape of one.
    """
    kwargs.update(max_displacement=result.max_displacement, titles=titles)
    if osp.splitext(out)[1].lower() in ANIMATION_SUFFIXES:
        images = motion_animation(result.frames, result.motion, progress=True, **kwargs)
    else:
        images = [motion_figure(result.frames, result.motion, progress=len(titles) >= 8,
                                **kwargs)]
    write_images(out, images if len(images) > 1 else images[0], fps=fps)
    return len(images), images[0].shape


def save_motion(result: ClipMotion, path: str) -> None:
    """Save the maps with ``numpy.savez``: ``motion`` ``[T, 3, h, w]`` (dx, dy in units of
    ``max_displacement`` cells, confidence), ``frames``, ``max_displacement``, ``module``."""
    np.savez(path, motion=result.motion.numpy(), frames=result.frames,
             max_displacement=result.max_displacement, module=result.module)
