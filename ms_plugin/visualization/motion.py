"""Figures of the motion a MotionSqueeze module estimates (the paper's Figures 5 and 6).

A figure has one column per frame pair (t, t+1) and three rows: frame t, the
displacement map of the pair in the usual optical-flow colour coding (hue =
direction, saturation = magnitude, via :func:`torchvision.utils.flow_to_image`)
with a colour-wheel legend, and the confidence map with a colour bar.

Conventions, the same as :func:`ms_plugin.models.capture_motion`:

- motion is ``[T, 3, h, w]`` holding (dx, dy, confidence) on the module's
  feature grid; dx and dy are in [-1, 1] in units of ``max_displacement``
  cells, +x is rightwards and +y downwards; confidence is in [0, 1].
- map t belongs to the pair (t, t+1); a module gives T maps for T frames, the
  last being a copy of map T-2 (frame T-1 has no successor), so it is not drawn.

Scaling: the displacement is multiplied by ``max_displacement`` (so 1 = one
feature-grid cell) and the colours are normalised once over the whole clip
(full saturation = the largest displacement in the clip, or ``max_magnitude``
when given), so colours can be compared across columns and animation frames.
The maps are upsampled to the frame's size with nearest-neighbour
interpolation by default, so each block is one feature cell and no value is
invented between cells.
"""
from __future__ import annotations

import math
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor, nn
from torchvision.utils import flow_to_image
from tqdm import tqdm

__all__ = [
    'find_motion_modules', 'collect_motion', 'motion_inputs', 'render_motion', 'flow_colors',
    'motion_frames', 'draw_motion_figure', 'figure_to_array', 'motion_figure',
    'motion_animation', 'write_images', 'translation_agreement'
]

ROW_LABELS = ('frame t', 'displacement', 'confidence')
# Width of the legend column (colour wheel, colour bar) relative to a panel.
LEGEND_WIDTH = 0.6
ANIMATION_SUFFIXES = ('.gif', '.mp4', '.avi')
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg')


def find_motion_modules(model: nn.Module) -> Dict[str, nn.Module]:
    """:func:`~ms_plugin.models.motion_squeeze_modules`, refusing a model with none.

    Raises:
        ValueError: If the model holds no MotionSqueeze module.
    """
    from ms_plugin.models import motion_squeeze_modules
    found = {name or type(model).__name__: module
             for name, module in motion_squeeze_modules(model).items()}
    if not found:
        raise ValueError(
            f'{type(model).__name__} holds no MotionSqueeze module, so there is no motion to '
            'show. Use a config whose backbone has one (e.g. backbone=dict(type='
            "'ResNetTSM_MS', ...)) or add a MotionSqueeze module to your backbone.")
    return found


def _select_module(model: nn.Module, name: Optional[str]) -> Tuple[str, nn.Module]:
    modules = find_motion_modules(model)
    if name is None:
        return next(iter(modules.items()))
    if name not in modules:
        raise ValueError(f'no MotionSqueeze module named {name!r}; this model has '
                         f'{sorted(modules)}. Pass one of these names.')
    return name, modules[name]


def _forward(model: nn.Module, clip: Tensor) -> None:
    """One test-mode forward of ``clip`` [V*T, C, H, W] (pixel values, RGB)."""
    if hasattr(model, 'test_step') and hasattr(model, 'data_preprocessor'):
        # An MMEngine model: its own data preprocessor normalises and batches.
        from mmaction.structures import ActionDataSample
        model.test_step(dict(inputs=[clip], data_samples=[ActionDataSample()]))
    else:
        device = next(model.parameters()).device
        model(clip.float().to(device))


@torch.no_grad()
def collect_motion(model: nn.Module, clip: Tensor) -> Dict[str, Tensor]:
    """Run the model on one clip and return what each MotionSqueeze module saw.

    Args:
        model (nn.Module): An MMAction2 recognizer (its ``data_preprocessor``
            is applied, as in testing) or any module taking ``[N*T, C, H, W]``.
        clip (Tensor): ``[V*T, 3, H, W]``, what the test pipeline packs for one
            sample (V views of T frames, pixel values 0-255, RGB).

    Returns:
        dict[str, Tensor]: Module name -> motion ``[V*T, 3, h, w]`` (dx, dy,
        confidence) on the CPU.
    """
    if clip.dim() != 4:
        raise ValueError(f'clip must be [V*T, C, H, W] (one sample of the test pipeline), got '
                         f'shape {tuple(clip.shape)}')
    from ms_plugin.models import capture_motion
    was_training = model.training
    model.eval()
    try:
        with capture_motion(model) as maps:
            _forward(model, clip)
    finally:
        model.train(was_training)
    silent = [name for name, chunks in maps.items() if not chunks]
    if silent:
        raise RuntimeError(f'MotionSqueeze modules {silent} did not run in the forward pass; '
                           "check that the backbone's forward calls them.")
    return {name or type(model).__name__: torch.cat(chunks).float().cpu()
            for name, chunks in maps.items()}


def _clip_to_frames(clip: Tensor) -> np.ndarray:
    """[T, 3, H, W] pixel values -> uint8 [T, H, W, 3]."""
    pixels = clip.detach().float().clamp(0, 255).round().to(torch.uint8).cpu()
    return pixels.permute(0, 2, 3, 1).numpy()  # [T, 3, H, W] -> [T, H, W, 3]


def motion_inputs(model: nn.Module, clip: Tensor, module: Optional[str] = None
                  ) -> Tuple[np.ndarray, Tensor, int, str]:
    """Frames and motion of the first view of a clip, ready for :func:`motion_figure`.

    Args:
        model (nn.Module): See :func:`collect_motion`.
        clip (Tensor): ``[V*T, 3, H, W]`` pixel values 0-255, RGB.
        module (str, optional): Name of the MotionSqueeze module to show.
            Defaults to None (the first one).

    Returns:
        tuple: frames ``uint8 [T, H, W, 3]``, motion ``[T, 3, h, w]``, the
        module's ``max_displacement`` and its name.
    """
    name, ms = _select_module(model, module)
    motion = collect_motion(model, clip)[name]
    num_frames = int(getattr(ms, 'num_segments', clip.shape[0]))
    if clip.shape[0] < num_frames or motion.shape[0] < num_frames:
        raise ValueError(f'the clip has {clip.shape[0]} frames but module {name!r} expects '
                         f'num_segments={num_frames}; sample the clip with that many frames.')
    # The first view only: [V*T, ...] -> [T, ...]
    frames = _clip_to_frames(clip[:num_frames])
    return frames, motion[:num_frames], int(getattr(ms, 'max_displacement', 7)), name


def flow_colors(flow: Tensor, max_magnitude: Optional[float] = None) -> Tuple[np.ndarray, float]:
    """Optical-flow colours of displacements, normalised once over all maps.

    Args:
        flow (Tensor): ``[P, 2, h, w]`` displacement (x, y) in any unit.
        max_magnitude (float, optional): Magnitude drawn at full saturation;
            larger ones are clipped to it. Defaults to None (the largest
            magnitude in ``flow``).

    Returns:
        tuple: ``uint8 [P, h, w, 3]`` colours and the magnitude used.
    """
    if flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(f'flow must be [P, 2, h, w], got shape {tuple(flow.shape)}')
    flow = flow.detach().float().cpu()
    norm = flow.norm(dim=1, keepdim=True)
    if max_magnitude is None:
        max_magnitude = float(norm.max())
    elif max_magnitude <= 0:
        raise ValueError(f'max_magnitude must be positive, got {max_magnitude}')
    else:
        flow = flow * (max_magnitude / norm.clamp(min=max_magnitude))
    # flow_to_image normalises by the largest vector of the whole batch; one
    # extra column holding a vector of exactly max_magnitude pins that scale.
    reference = torch.zeros(flow.shape[0], 2, flow.shape[2], 1)
    reference[:, 0] = max_magnitude
    # [P, 2, h, w] -> [P, 2, h, w+1] -> colours [P, 3, h, w]
    rgb = flow_to_image(torch.cat([flow, reference], dim=3))[..., :-1]
    # [P, 3, h, w] -> [P, h, w, 3]
    return rgb.permute(0, 2, 3, 1).numpy(), max_magnitude


def _pairs(frames: np.ndarray, motion: Tensor) -> int:
    """Number of frame pairs, checking the shapes of frames and motion."""
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f'frames must be [T, H, W, 3] RGB, got shape {frames.shape}')
    if motion.dim() != 4 or motion.shape[1] != 3:
        raise ValueError(f'motion must be [T, 3, h, w] (dx, dy, confidence), got shape '
                         f'{tuple(motion.shape)}')
    num_frames = frames.shape[0]
    if num_frames < 2:
        raise ValueError('motion needs at least two frames; got one')
    if motion.shape[0] not in (num_frames, num_frames - 1):
        raise ValueError(f'{num_frames} frames need {num_frames - 1} or {num_frames} motion maps '
                         f'(one per pair, the module adds a copy for the last frame); got '
                         f'{motion.shape[0]}')
    return num_frames - 1


def motion_frames(frames: np.ndarray,
                  motion: Tensor,
                  max_displacement: int = 7,
                  max_magnitude: Optional[float] = None,
                  interpolation: str = 'nearest') -> Tuple[np.ndarray, np.ndarray, float]:
    """Displacement colours and confidence at the frames' size, one per pair.

    Args:
        frames (np.ndarray): ``[T, H, W, 3]`` RGB frames.
        motion (Tensor): ``[T, 3, h, w]`` or ``[T-1, 3, h, w]`` (dx, dy,
            confidence), dx and dy in units of ``max_displacement`` cells.
        max_displacement (int): The module's maximum displacement, in cells.
            Defaults to 7.
        max_magnitude (float, optional): Displacement (in cells) drawn at full
            saturation. Defaults to None (the largest one of the clip).
        interpolation (str): ``'nearest'`` or ``'bilinear'`` upsampling of the
            maps. Defaults to 'nearest'.

    Returns:
        tuple: colours ``uint8 [T-1, H, W, 3]``, confidence ``[T-1, H, W]``
        and the magnitude (cells) drawn at full saturation.
    """
    pairs = _pairs(frames, motion)
    height, width = frames.shape[1:3]
    kwargs = {} if interpolation == 'nearest' else dict(align_corners=False)
    maps = F.interpolate(motion[:pairs].detach().float().cpu(), size=(height, width),
                         mode=interpolation, **kwargs)
    colours, max_magnitude = flow_colors(maps[:, :2] * max_displacement, max_magnitude)
    return colours, maps[:, 2].numpy(), max_magnitude


def _colour_wheel(size: int = 101) -> np.ndarray:
    """RGBA colour wheel of unit radius, +x right, +y down (image rows)."""
    axis = torch.linspace(-1, 1, size)
    y, x = torch.meshgrid(axis, axis, indexing='ij')
    inside = (x ** 2 + y ** 2) <= 1
    # [size, size] x 2 -> [2, size, size], zero outside the disc
    flow = torch.stack([x, y]) * inside
    rgb = flow_to_image(flow).permute(1, 2, 0).numpy()
    alpha = (inside.numpy() * 255).astype(np.uint8)[..., None]
    return np.concatenate([rgb, alpha], axis=-1)


def draw_motion_figure(frames: np.ndarray,
                       motion: Tensor,
                       max_displacement: int = 7,
                       max_magnitude: Optional[float] = None,
                       columns: Optional[Sequence[int]] = None,
                       titles: Optional[Sequence[str]] = None,
                       title: Optional[str] = None,
                       note: Optional[str] = None,
                       interpolation: str = 'nearest',
                       cmap: str = 'viridis',
                       panel_inches: float = 1.6,
                       dpi: int = 100,
                       progress: bool = False) -> Figure:
    """The motion figure as a matplotlib Figure (see :func:`motion_figure`).

    Returns:
        Figure: With a ``FigureCanvasAgg`` attached; ``fig.axes_grid`` is the
        3 x len(columns) array of panel axes (rows: frame, displacement,
        confidence).
    """
    colours, confidence, max_magnitude = motion_frames(frames, motion, max_displacement,
                                                       max_magnitude, interpolation)
    pairs = colours.shape[0]
    columns = list(range(pairs)) if columns is None else list(columns)
    if not columns or min(columns) < 0 or max(columns) >= pairs:
        raise ValueError(f'columns must be pair indices in [0, {pairs}), got {columns}')
    if titles is not None and len(titles) != pairs:
        raise ValueError(f'titles needs one entry per pair ({pairs}), got {len(titles)}')
    height, width = frames.shape[1:3]
    stride = height / motion.shape[2]
    ncols = len(columns)
    top = 0.3 + 0.2 * (title is not None) + 0.2 * (note is not None)
    fig = Figure(figsize=(panel_inches * (ncols + LEGEND_WIDTH) + 0.5,
                          panel_inches * 3 * height / width + top), dpi=dpi)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(3, ncols + 1, width_ratios=[1] * ncols + [LEGEND_WIDTH],
                            left=0.3 / fig.get_figwidth(), right=0.99, bottom=0.02,
                            top=1 - top / fig.get_figheight(), wspace=0.05, hspace=0.05)
    axes = np.empty((3, ncols), dtype=object)
    for col, pair in enumerate(tqdm(columns, desc='drawing', disable=not progress, leave=False)):
        panels = (frames[pair], colours[pair], confidence[pair])
        for row, panel in enumerate(panels):
            ax = fig.add_subplot(grid[row, col])
            kwargs = dict(cmap=cmap, vmin=0.0, vmax=1.0) if row == 2 else {}
            image = ax.imshow(panel, interpolation='nearest', **kwargs)
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(ROW_LABELS[row], fontsize=8)
            if row == 2:
                confidence_image = image
            axes[row, col] = ax
        name = titles[pair] if titles is not None else f'{pair} \u2192 {pair + 1}'
        axes[0, col].set_title(name, fontsize=8)

    fig.add_subplot(grid[0, ncols]).axis('off')
    wheel = fig.add_subplot(grid[1, ncols])
    wheel.imshow(_colour_wheel(), extent=(-1, 1, 1, -1))
    wheel.set_xlim(-1.4, 1.4)
    wheel.set_ylim(1.4, -1.4)
    wheel.axis('off')
    wheel.set_title(f'rim: {max_magnitude:.2g} cells\n= {max_magnitude * stride:.2g} px',
                    fontsize=6)
    for text, (x, y) in (('+x', (1.2, 0.0)), ('+y', (0.0, 1.25))):
        wheel.text(x, y, text, ha='center', va='center', fontsize=6)
    holder = fig.add_subplot(grid[2, ncols])
    holder.axis('off')
    bar = holder.inset_axes((0.05, 0.05, 0.2, 0.9))
    fig.colorbar(confidence_image, cax=bar)
    bar.tick_params(labelsize=6)
    if title is not None:
        fig.suptitle(title, fontsize=9, y=1 - 0.05 / fig.get_figheight(), va='top')
    if note is not None:
        fig.text(0.5, 1 - (0.05 + 0.2 * (title is not None)) / fig.get_figheight(), note,
                 ha='center', va='top', fontsize=8, color='firebrick')
    fig.axes_grid = axes
    return fig


def figure_to_array(fig: Figure) -> np.ndarray:
    """Render a Figure (with an Agg canvas) to ``uint8 [H, W, 3]``."""
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def motion_figure(frames: np.ndarray, motion: Tensor, **kwargs) -> np.ndarray:
    """Draw frames, displacement and confidence maps, one column per frame pair.

    Args:
        frames (np.ndarray): ``uint8 [T, H, W, 3]`` RGB frames.
        motion (Tensor): ``[T, 3, h, w]`` (dx, dy, confidence) as
            ``capture_motion`` gives it for one view; ``[T-1, 3, h,
            w]`` is accepted too.
        **kwargs: ``max_displacement`` (Defaults to 7), ``max_magnitude``,
            ``columns`` (pair indices to draw), ``titles`` (one per pair),
            ``title``, ``note`` (a red line under the title), ``interpolation``,
            ``cmap`` (confidence colour map, Defaults to 'viridis'),
            ``panel_inches``, ``dpi``, ``progress``; see
            :func:`draw_motion_figure`.

    Returns:
        np.ndarray: ``uint8 [H', W', 3]`` image of the figure.
    """
    return figure_to_array(draw_motion_figure(frames, motion, **kwargs))


def motion_animation(frames: np.ndarray,
                     motion: Tensor,
                     max_displacement: int = 7,
                     max_magnitude: Optional[float] = None,
                     progress: bool = False,
                     **kwargs) -> List[np.ndarray]:
    """One single-column figure per frame pair, all of the same size and scale.

    Args:
        frames, motion, max_displacement, max_magnitude: As for
            :func:`motion_figure`; the colour scale is fixed over the clip.
        progress (bool): Show a progress bar. Defaults to False.
        **kwargs: Passed on to :func:`draw_motion_figure`.

    Returns:
        list[np.ndarray]: ``T-1`` images ``uint8 [H', W', 3]``.
    """
    pairs = _pairs(frames, motion)
    if max_magnitude is None:
        max_magnitude = motion_frames(frames, motion, max_displacement)[2]
    images = []
    for pair in tqdm(range(pairs), desc='rendering', disable=not progress):
        images.append(motion_figure(frames, motion, max_displacement=max_displacement,
                                    max_magnitude=max_magnitude, columns=[pair], **kwargs))
    return images


def render_motion(model: nn.Module, clip: Tensor, module: Optional[str] = None,
                  **kwargs) -> np.ndarray:
    """Run a model on a clip and draw what one of its MotionSqueeze modules saw.

    Args:
        model (nn.Module): A recognizer (e.g. ``MSNet``) or any module taking
            ``[N*T, C, H, W]`` that holds MotionSqueeze modules.
        clip (Tensor): ``[V*T, 3, H, W]`` pixel values 0-255, RGB (one sample
            of the test pipeline); only the first view is drawn.
        module (str, optional): Name of the module to show (see
            :func:`find_motion_modules`). Defaults to None (the first).
        **kwargs: Passed on to :func:`motion_figure`.

    Returns:
        np.ndarray: ``uint8 [H', W', 3]`` image of the figure.
    """
    frames, motion, max_displacement, _ = motion_inputs(model, clip, module)
    kwargs.setdefault('max_displacement', max_displacement)
    return motion_figure(frames, motion, **kwargs)


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
    from PIL import Image
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
        from ms_plugin.utils.video import write_video

        # Many codecs need even frame sizes: pad with white.
        write_video(path, [np.pad(image, ((0, image.shape[0] % 2), (0, image.shape[1] % 2),
                                          (0, 0)), constant_values=255) for image in images],
                    fps=fps)
    else:
        raise ValueError(f'unknown output type {suffix!r} for {path}: use one of '
                         f'{IMAGE_SUFFIXES + ANIMATION_SUFFIXES}')
    return path


def translation_agreement(motion: Tensor, masks: np.ndarray, direction: Sequence[float],
                          max_displacement: int, object_cover: float = 0.5,
                          near_zero: float = 0.5, margin: int = 1) -> Dict[str, float]:
    """How well motion maps of a translating object agree with where the object is.

    The maps are compared with ground-truth object masks (e.g. from the
    synthetic motion generator) pooled onto the module's grid: a cell is the
    object's in pair (t, t+1) if the object covers at least ``object_cover``
    of it in frame t, and background if the object touches neither it nor
    its neighbours within ``margin`` cells in frame t or t+1 (a feature's
    receptive field reaches past its cell).

    Args:
        motion (Tensor): ``[T, 3, h, w]`` (dx, dy, confidence), dx and dy in
            units of ``max_displacement`` cells, as :func:`motion_inputs` returns.
        masks (np.ndarray): ``[T, H, W]`` object coverage in [0, 1] per pixel;
            H and W multiples of h and w.
        direction (Sequence[float]): The object's true direction (x, y), +x
            rightwards, +y downwards; its length does not matter.
        max_displacement (int): The module's ``max_displacement``.
        object_cover (float): Coverage making a cell the object's. Defaults to 0.5.
        near_zero (float): Displacement (cells) below which a background cell
            counts as still. Defaults to 0.5.
        margin (int): Cells around the object that are neither object nor
            background. Defaults to 1.

    Returns:
        dict[str, float]: ``object_cells`` and ``background_cells`` (counted
        over the T-1 pairs); ``angle_error`` (degrees) between the object
        cells' displacement (the median of x and of y) and ``direction``;
        ``object_along``, their median displacement along ``direction`` (cells);
        ``object_aligned``, the share of them within 45 degrees of it;
        ``background_magnitude``, the background cells' mean displacement
        length (cells); ``background_still``, the share of them below
        ``near_zero``.
    """
    pairs = motion.shape[0] - 1
    grid = tuple(motion.shape[-2:])
    if masks.shape[0] < pairs + 1 or masks.shape[1] % grid[0] or masks.shape[2] % grid[1]:
        raise ValueError(f'masks {masks.shape} do not fit motion maps {tuple(motion.shape)}: '
                         'need T masks whose size is a multiple of the grid')
    # Coverage per cell: [T, H, W] -> [T, h, w]
    cover = F.adaptive_avg_pool2d(torch.as_tensor(masks[:pairs + 1], dtype=torch.float32)[None],
                                  grid)[0]
    flow = motion[:pairs, :2].float() * max_displacement  # [P, 2, h, w], cells
    unit = torch.tensor(direction, dtype=torch.float32)
    unit = unit / unit.norm()
    obj = cover[:pairs] >= object_cover  # [P, h, w]
    touched = ((cover[:pairs] > 0) | (cover[1:] > 0)).float()[:, None]
    near = F.max_pool2d(touched, 2 * margin + 1, stride=1, padding=margin)[:, 0] > 0
    background = ~near
    vectors = flow.permute(0, 2, 3, 1)  # [P, h, w, 2]
    on_object = vectors[obj]
    # Medians: a few cells of a wrong match must not swing the direction.
    median = on_object.median(0).values if len(on_object) else torch.zeros(2)
    cosine = float(median @ unit / median.norm().clamp_min(1e-9))
    lengths = on_object.norm(dim=1).clamp_min(1e-9)
    aligned = ((on_object @ unit) / lengths) >= math.cos(math.radians(45))
    still = vectors[background].norm(dim=1)
    return dict(
        object_cells=int(obj.sum()),
        background_cells=int(background.sum()),
        angle_error=math.degrees(math.acos(max(-1.0, min(1.0, cosine)))),
        object_along=float((on_object @ unit).median()) if len(on_object) else 0.0,
        object_aligned=float(aligned.float().mean()) if len(on_object) else 0.0,
        background_magnitude=float(still.mean()) if len(still) else 0.0,
        background_still=float((still < near_zero).float().mean()) if len(still) else 1.0)
