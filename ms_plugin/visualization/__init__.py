"""Figures of what MotionSqueeze modules compute (frames, displacement, confidence).

* :mod:`.colors`: displacement maps as optical-flow colours at the frames' size;
* :mod:`.figure`: the figure (a column per frame pair) and its animation;
* :mod:`.writers`: PNG/JPEG, GIF, MP4/AVI files.

Running a model to get the maps is :func:`ms_plugin.apis.clip_motion` (and
:func:`ms_plugin.apis.render_motion`). Import this package explicitly:
``import ms_plugin`` does not load matplotlib.
"""
from .colors import colour_wheel, flow_colors, motion_frames, pair_count
from .figure import draw_motion_figure, figure_to_array, motion_animation, motion_figure
from .writers import ANIMATION_SUFFIXES, IMAGE_SUFFIXES, write_images

__all__ = [
    'ANIMATION_SUFFIXES', 'IMAGE_SUFFIXES', 'colour_wheel', 'draw_motion_figure',
    'figure_to_array', 'flow_colors', 'motion_animation', 'motion_figure', 'motion_frames',
    'pair_count', 'write_images'
]
