"""Data generators (pure numpy; OpenCV only to write files)."""
from .synthetic_motion import (CLASSES, FLIP_PAIRS, MotionSpec,
                               flip_label_map, load_flip_label_map,
                               make_clip, write_dataset)

__all__ = [
    'CLASSES', 'FLIP_PAIRS', 'MotionSpec', 'flip_label_map',
    'load_flip_label_map', 'make_clip', 'write_dataset'
]
