"""Figures of the motion a MotionSqueeze module estimates (the paper's Figures 5 and 6).

A figure has one column per frame pair (t, t+1) and three rows: frame t, the
displacement map of the pair in the usual optical-flow colour coding (hue =
direction, saturation = magnitude, via :func:`torchvision.utils.flow_to_image`)
with a colour-wheel legend, and the confidence map with a colour bar. The
conventions and the scaling are those of :mod:`.colors`. The maps are
upsampled to the frame's size with nearest-neighbour interpolation by
default, so each block is one feature cell and no value is invented between
cells.
"""
from typing import List, Optional, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor
from tqdm import tqdm

from .colors import colour_wheel, motion_frames, pair_count

__all__ = ['draw_motion_figure', 'figure_to_array', 'motion_animation', 'motion_figure']

ROW_LABELS = ('frame t', 'displacement', 'confidence')
# Width of the legend column (colour wheel, colour bar) relative to a panel.
LEGEND_WIDTH = 0.6


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
    wheel.imshow(colour_wheel(), extent=(-1, 1, 1, -1))
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
    pairs = pair_count(frames, motion)
    if max_magnitude is None:
        max_magnitude = motion_frames(frames, motion, max_displacement)[2]
    images = []
    for pair in tqdm(range(pairs), desc='rendering', disable=not progress):
        images.append(motion_figure(frames, motion, max_displacement=max_displacement,
                                    max_magnitude=max_magnitude, columns=[pair], **kwargs))
    return images
