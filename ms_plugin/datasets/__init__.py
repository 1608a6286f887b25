"""Data generators (pure numpy; OpenCV only to write files) and dataset checks."""
from .synthetic_motion import (CLASS_SETS, CLASSES, FLIP_PAIRS, TRANSLATION_CLASSES,
                               MotionSpec, flip_label_map, load_flip_label_map,
                               make_clip, write_dataset)

__all__ = ['CLASS_SETS', 'CLASSES', 'FLIP_PAIRS', 'TRANSLATION_CLASSES', 'MotionSpec',
           'flip_label_map', 'load_flip_label_map', 'make_clip', 'write_dataset']
