"""The classes of the synthetic motion data and how fast and big its objects are."""
from dataclasses import dataclass
from typing import Dict, Sequence, Tuple

__all__ = ['CLASSES', 'CLASS_SETS', 'FLIP_PAIRS', 'MotionSpec', 'SHAPES', 'SPLIT_IDS',
           'TRANSLATION_CLASSES', 'flip_label_map']

CLASSES: Tuple[str, ...] = (
    'staying still',
    'moving left',
    'moving right',
    'moving up',
    'moving down',
    'growing (coming closer)',
    'shrinking (moving away)',
    'rotating clockwise',
    'rotating anticlockwise',
    'moving away and coming back',
)
# The demo's classes (``make demo``): an object that stays still or
# translates in one of the four directions. They are the first five of
# :data:`CLASSES`, so a label means the same class in both sets. MSNet-R18
# learns them from scratch within the demo's few CPU minutes. The growing,
# shrinking and rotating classes move the object's edge by about one cell of
# the MS module's 12x12 grid at 96 px or less, and take far longer to learn
# (docs/demo.md).
TRANSLATION_CLASSES: Tuple[str, ...] = CLASSES[:5]
# Named class sets, for ``tools/data/synthetic_motion.py --class-set``.
CLASS_SETS: Dict[str, Tuple[str, ...]] = dict(all=CLASSES, translation=TRANSLATION_CLASSES)
# Class pairs that a horizontal (left-right) flip of the video swaps.
FLIP_PAIRS: Tuple[Tuple[str, str], ...] = (
    ('moving left', 'moving right'),
    ('rotating clockwise', 'rotating anticlockwise'),
)
SHAPES: Tuple[str, ...] = ('circle', 'square', 'diamond', 'triangle',
                           'hexagon', 'ellipse')
SPLIT_IDS = {'train': 0, 'val': 1, 'test': 2}


@dataclass(frozen=True)
class MotionSpec:
    """How fast things move and how big they are, relative to the frame.

    Speeds are per frame. Translation speeds are fractions of the frame side:
    the defaults (0.14 to 0.2) are 9 to 13 px per frame at 64 px, i.e. 2 to 3
    cells of the stride-4 features where TSM's first shifts act, more than a
    one-frame channel shift followed by a 3x3 convolution can match, while a
    correlation over +-7 cells after stride 8 covers it.

    Args:
        speed (tuple[float, float]): Translation speed range, in frame sides
            per frame. Defaults to (0.14, 0.2).
        zoom (tuple[float, float]): Per-frame size factor range of growing
            and shrinking objects. Defaults to (1.10, 1.16).
        spin (tuple[float, float]): Rotation speed range in degrees per frame.
            Defaults to (15., 30.).
        radius (tuple[float, float]): Object radius range (at the middle of
            the clip) in frame sides. Defaults to (0.18, 0.3).
    """
    speed: Tuple[float, float] = (0.14, 0.2)
    zoom: Tuple[float, float] = (1.10, 1.16)
    spin: Tuple[float, float] = (15., 30.)
    radius: Tuple[float, float] = (0.18, 0.3)


def flip_label_map(classes: Sequence[str] = CLASSES) -> Dict[int, int]:
    """Label map of a horizontal flip, both directions, for ``Flip``.

    Args:
        classes (Sequence[str]): Class names; pairs of :data:`FLIP_PAIRS` that
            are both present are mapped. Defaults to :data:`CLASSES`.

    Returns:
        dict[int, int]: ``{label: flipped_label}`` for the swapped classes.
    """
    index = {name: i for i, name in enumerate(classes)}
    mapping = {}
    for a, b in FLIP_PAIRS:
        if a in index and b in index:
            mapping[index[a]] = index[b]
            mapping[index[b]] = index[a]
    return mapping
