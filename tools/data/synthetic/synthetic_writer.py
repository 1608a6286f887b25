"""A synthetic video dataset whose classes differ only in how things move.

Every clip shows one textured object over a textured, static background. The
class says how the object moves (left, right, up, down, growing, shrinking,
rotating either way, going out and coming back, or staying still); everything
that a single frame shows (shape, colours, textures, background, size, position,
angle and, within a range, the speed) is drawn independently of the class. The
object's path is centred on a uniformly drawn point of a torus (it leaves one
edge and comes back at the opposite one), so even the object's position in a
given frame is uniform for every class: only the change between frames tells
the class.

The clips are laid out as Something-Something is in MMAction2: mp4 videos with
``{split}_list_videos.txt`` (lines ``name.mp4 label``) for ``VideoDataset`` and
JPEG frames ``{:05}.jpg`` with ``{split}_list_rawframes.txt`` (lines
``dir total_frames label``) for ``RawframeDataset``. A horizontal flip swaps some
classes (left and right, clockwise and anticlockwise);
``flip_label_map.json`` names them for ``Flip(flip_label_map=...)``.

The parts, in this folder (``tools/data/synthetic``, which the tools that use
it put on ``sys.path``; it serves the demo, the tools and the tests, not the
installed package): the classes and the speeds and sizes
(``synthetic_classes``), the rendering, pure numpy (``synthetic_render``) and
the writers (this module, with OpenCV). This module re-exports the first two.
"""
import json
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence

import cv2
import numpy as np

from ms_plugin.utils.video import write_video
from synthetic_classes import (CLASS_SETS, CLASSES, FLIP_PAIRS, SHAPES, SPLIT_IDS,
                                TRANSLATION_CLASSES, MotionSpec, flip_label_map)
from synthetic_render import (make_clip, make_clip_masks, random_texture, render_clip,
                               render_masks, sample_appearance, sample_motion)

__all__ = [
    'CLASSES', 'CLASS_SETS', 'FLIP_PAIRS', 'MotionSpec', 'SHAPES', 'SPLIT_IDS',
    'TRANSLATION_CLASSES', 'flip_label_map', 'load_flip_label_map', 'make_clip',
    'make_clip_masks', 'random_texture', 'render_clip', 'render_masks', 'sample_appearance',
    'sample_motion', 'split_labels', 'write_dataset', 'write_rawframes'
]


def split_labels(seed: int, split: str, num_videos: int,
                 num_classes: int) -> np.ndarray:
    """Balanced labels in a random order (names do not reveal the class)."""
    labels = np.arange(num_videos) % num_classes
    rng = np.random.default_rng([seed, SPLIT_IDS[split], 10**6])
    return rng.permutation(labels)


def write_rawframes(folder: str, frames: np.ndarray,
                    quality: int = 95) -> None:
    """Write RGB frames [T, H, W, 3] as ``{:05}.jpg`` files, from 00001."""
    os.makedirs(folder, exist_ok=True)
    for i, frame in enumerate(frames, start=1):
        cv2.imwrite(osp.join(folder, f'{i:05}.jpg'),
                    np.ascontiguousarray(frame[..., ::-1]),
                    [cv2.IMWRITE_JPEG_QUALITY, quality])


def write_dataset(out_dir: str,
                  num_videos: Dict[str, int],
                  seed: int = 0,
                  size: int = 64,
                  num_frames: int = 8,
                  spec: MotionSpec = MotionSpec(),
                  classes: Sequence[str] = CLASSES,
                  layouts: Sequence[str] = ('videos', 'rawframes'),
                  progress: Optional[Callable[[str, int, int], None]] = None) -> dict:
    """Write the dataset in MMAction2's video and rawframe layouts.

    Layout under ``out_dir``: ``videos/{split}/{split}_NNNNN.mp4``,
    ``{split}_list_videos.txt``, ``rawframes/{split}/{split}_NNNNN/00001.jpg``,
    ``{split}_list_rawframes.txt``, ``classes.txt`` (one name a line, in label
    order), ``flip_label_map.json`` and ``meta.json`` (the arguments).

    Args:
        out_dir (str): Output folder (created).
        num_videos (dict[str, int]): Videos per split, e.g.
            ``dict(train=600, val=200)``.
        seed (int): Seed; the same seed gives the same files. Defaults to 0.
        size (int): Frame side in pixels. Defaults to 64.
        num_frames (int): Frames per video. Defaults to 8.
        spec (MotionSpec): Motion ranges. Defaults to ``MotionSpec()``.
        classes (Sequence[str]): Class names. Defaults to :data:`CLASSES`.
        layouts (Sequence[str]): Which of ``'videos'``, ``'rawframes'`` to
            write. Defaults to both.
        progress (callable, optional): Called with (split, done, total).

    Returns:
        dict: The metadata written to ``meta.json``.
    """
    unknown = set(num_videos) - set(SPLIT_IDS)
    if unknown:
        raise ValueError(f'Unknown split(s) {sorted(unknown)}; use '
                         f'{sorted(SPLIT_IDS)}.')
    if size < 16 or num_frames < 2:
        raise ValueError(f'size={size} and num_frames={num_frames} are too '
                         f'small; use size >= 16 and num_frames >= 2.')
    os.makedirs(out_dir, exist_ok=True)
    for split, count in num_videos.items():
        labels = split_labels(seed, split, count, len(classes))
        video_lines: List[str] = []
        frame_lines: List[str] = []
        for index, label in enumerate(labels):
            name = f'{split}_{index:05}'
            frames = make_clip(int(label), seed, split, index, size,
                               num_frames, spec, classes)
            if 'videos' in layouts:
                os.makedirs(osp.join(out_dir, 'videos', split), exist_ok=True)
                write_video(osp.join(out_dir, 'videos', split, name + '.mp4'),
                            frames)
                video_lines.append(f'{split}/{name}.mp4 {label}')
            if 'rawframes' in layouts:
                write_rawframes(osp.join(out_dir, 'rawframes', split, name),
                                frames)
                frame_lines.append(f'{split}/{name} {num_frames} {label}')
            if progress is not None:
                progress(split, index + 1, count)
        for layout, lines in (('videos', video_lines),
                              ('rawframes', frame_lines)):
            if layout in layouts:
                with open(osp.join(out_dir, f'{split}_list_{layout}.txt'),
                          'w') as f:
                    f.write('\n'.join(lines) + '\n')
    with open(osp.join(out_dir, 'classes.txt'), 'w') as f:
        f.write('\n'.join(classes) + '\n')
    with open(osp.join(out_dir, 'flip_label_map.json'), 'w') as f:
        json.dump({str(k): v for k, v in flip_label_map(classes).items()}, f,
                  indent=1)
    meta = dict(num_videos=dict(num_videos), seed=seed, size=size,
                num_frames=num_frames, spec=spec.__dict__,
                classes=list(classes), layouts=list(layouts),
                class_sets={name: len(chosen) for name, chosen in CLASS_SETS.items()})
    with open(osp.join(out_dir, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    return meta


def load_flip_label_map(path: str) -> Dict[int, int]:
    """Read ``flip_label_map.json`` back as ``{int: int}`` for ``Flip``."""
    with open(path) as f:
        return {int(k): int(v) for k, v in json.load(f).items()}
