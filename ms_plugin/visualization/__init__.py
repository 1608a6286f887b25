"""Figures of what MotionSqueeze modules compute (frames, displacement, confidence).

Import it explicitly (``from ms_plugin.visualization import render_motion``):
``import ms_plugin`` does not load matplotlib.
"""
from .motion import (collect_motion, draw_motion_figure, figure_to_array, find_motion_modules,
                     flow_colors, motion_animation, motion_figure, motion_frames, motion_inputs,
                     render_motion, translation_agreement, write_images)

__all__ = [
    'collect_motion', 'draw_motion_figure', 'figure_to_array', 'find_motion_modules',
    'flow_colors', 'motion_animation', 'motion_figure', 'motion_frames', 'motion_inputs',
    'render_motion', 'translation_agreement', 'write_images'
]
