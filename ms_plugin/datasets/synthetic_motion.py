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

Rendering is pure numpy (:func:`render_clip`); only the writers need OpenCV.
"""
import json
import math
import os
import os.path as osp
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..utils.video import write_video

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


def _smooth_noise(rng: np.random.Generator, size: int,
                  cells: int) -> np.ndarray:
    """Value noise in [0, 1]: a random ``cells`` grid upsampled bilinearly."""
    grid = rng.random((cells + 1, cells + 1))
    pos = np.linspace(0, cells, size, endpoint=False)
    i = pos.astype(int)
    f = pos - i
    # Bilinear interpolation, rows then columns: [cells+1]^2 -> [size, size]
    rows = grid[i] * (1 - f)[:, None] + grid[i + 1] * f[:, None]
    return rows[:, i] * (1 - f)[None] + rows[:, i + 1] * f[None]


def random_texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random colour texture: noise and a grating between two colours.

    Args:
        rng (np.random.Generator): Random source.
        size (int): Side of the square texture in pixels.

    Returns:
        np.ndarray: float32 [size, size, 3] in [0, 255].
    """
    noise = _smooth_noise(rng, size, int(rng.integers(3, 9)))
    fine = _smooth_noise(rng, size, int(rng.integers(10, 20)))
    yy, xx = np.mgrid[0:size, 0:size] / size
    angle = rng.uniform(0, math.pi)
    freq = rng.uniform(2, 8)
    grating = 0.5 + 0.5 * np.sin(2 * math.pi * freq *
                                 (xx * math.cos(angle) + yy * math.sin(angle)))
    w = rng.dirichlet((1., 1., 1.))
    mix = np.clip(w[0] * noise + w[1] * fine + w[2] * grating, 0, 1)
    c0, c1 = rng.uniform(0, 255, size=(2, 3))
    return (c0 + mix[..., None] * (c1 - c0)).astype(np.float32)


def _shape_radius(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Gauge of a unit shape: < 1 inside, 1 on the boundary."""
    if shape == 'circle':
        return np.sqrt(u**2 + v**2)
    if shape == 'square':
        return np.maximum(abs(u), abs(v)) * 1.25
    if shape == 'diamond':
        return abs(u) + abs(v)
    if shape == 'ellipse':
        return np.sqrt(u**2 + (v / 0.6)**2)
    sides = 3 if shape == 'triangle' else 6
    # Regular polygon with circumradius 1: the largest projection on the
    # outward normals, divided by the inradius cos(pi / sides).
    normals = [2 * math.pi * (k + 0.5) / sides for k in range(sides)]
    proj = np.max([u * math.cos(a) + v * math.sin(a) for a in normals], axis=0)
    return proj / math.cos(math.pi / sides)


def _sample_bilinear(tex: np.ndarray, u: np.ndarray,
                     v: np.ndarray) -> np.ndarray:
    """Sample a texture at object coordinates u, v in [-1, 1] (clamped)."""
    side = tex.shape[0]
    x = np.clip((u + 1) * 0.5 * (side - 1), 0, side - 1.001)
    y = np.clip((v + 1) * 0.5 * (side - 1), 0, side - 1.001)
    x0, y0 = x.astype(int), y.astype(int)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    top = tex[y0, x0] * (1 - fx) + tex[y0, x0 + 1] * fx
    bottom = tex[y0 + 1, x0] * (1 - fx) + tex[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def sample_appearance(rng: np.random.Generator, size: int,
                      spec: MotionSpec = MotionSpec()) -> dict:
    """Draw everything a single frame shows, independently of the class.

    Args:
        rng (np.random.Generator): Random source.
        size (int): Frame side in pixels.
        spec (MotionSpec): Size range. Defaults to ``MotionSpec()``.

    Returns:
        dict: ``background`` [size, size, 3], ``texture`` [size, size, 3],
        ``shape``, ``center`` (x, y) in pixels, ``radius`` in pixels,
        ``angle`` in radians.
    """
    return dict(
        background=random_texture(rng, size),
        texture=random_texture(rng, size),
        shape=SHAPES[int(rng.integers(len(SHAPES)))],
        center=rng.uniform(0, size, size=2),
        radius=rng.uniform(*spec.radius) * size,
        angle=rng.uniform(0, 2 * math.pi))


def sample_motion(label: int, num_frames: int, rng: np.random.Generator,
                  size: int, spec: MotionSpec = MotionSpec(),
                  classes: Sequence[str] = CLASSES) -> dict:
    """Draw the per-frame motion of a class, relative to the clip's middle.

    Args:
        label (int): Index into ``classes``.
        num_frames (int): Frames in the clip.
        rng (np.random.Generator): Random source (speed, direction).
        size (int): Frame side in pixels.
        spec (MotionSpec): Speed ranges. Defaults to ``MotionSpec()``.
        classes (Sequence[str]): Class names. Defaults to :data:`CLASSES`.

    Returns:
        dict: ``shift`` [T, 2] (x, y) pixels added to the centre, ``zoom``
        [T] radius factors, ``turn`` [T] radians added to the angle
        (positive = clockwise on screen, since y points down).
    """
    name = classes[label]
    # Time centred on the clip's middle, so the middle frame is the drawn pose.
    t = np.arange(num_frames) - (num_frames - 1) / 2
    shift = np.zeros((num_frames, 2))
    zoom = np.ones(num_frames)
    turn = np.zeros(num_frames)
    speed = rng.uniform(*spec.speed) * size
    directions = {'moving left': (-1, 0), 'moving right': (1, 0),
                  'moving up': (0, -1), 'moving down': (0, 1)}
    if name in directions:
        shift = speed * t[:, None] * np.array(directions[name], float)
    elif name == 'moving away and coming back':
        angle = rng.uniform(0, 2 * math.pi)
        # Out for the first half, back for the second; centred on its mean.
        out = (num_frames - 1) / 2 - abs(t)
        out = out - out.mean()
        shift = speed * out[:, None] * np.array([math.cos(angle),
                                                 math.sin(angle)])
    elif name.startswith('growing') or name.startswith('shrinking'):
        rate = rng.uniform(*spec.zoom)
        zoom = rate**(t if name.startswith('growing') else -t)
    elif name.startswith('rotating'):
        omega = math.radians(rng.uniform(*spec.spin))
        turn = omega * t * (1 if name == 'rotating clockwise' else -1)
    elif name != 'staying still':
        raise ValueError(f'No motion is defined for class {name!r}; use the '
                         f'names in ms_plugin.datasets.CLASSES.')
    return dict(shift=shift, zoom=zoom, turn=turn)


def _object_layers(appearance: dict, motion: dict):
    """Yield, per frame, the object's coverage ``alpha`` [H, W] and its object coordinates."""
    size = appearance['background'].shape[0]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    for shift, zoom, turn in zip(motion['shift'], motion['zoom'],
                                 motion['turn']):
        cx, cy = appearance['center'] + shift
        radius = appearance['radius'] * zoom
        angle = appearance['angle'] + turn
        # Offsets on a torus: the object leaves one edge, enters the other.
        dx = (xx - cx + size / 2) % size - size / 2
        dy = (yy - cy + size / 2) % size - size / 2
        # Image offsets -> object coordinates (inverse rotation and scale).
        c, s = math.cos(angle), math.sin(angle)
        u = (c * dx + s * dy) / radius
        v = (-s * dx + c * dy) / radius
        gauge = _shape_radius(appearance['shape'], u, v)
        # Anti-aliased edge about one pixel wide.
        alpha = np.clip((1 - gauge) * radius + 0.5, 0, 1)
        yield alpha, u, v


def render_clip(appearance: dict, motion: dict) -> np.ndarray:
    """Render the frames of one clip.

    Args:
        appearance (dict): From :func:`sample_appearance`.
        motion (dict): From :func:`sample_motion`.

    Returns:
        np.ndarray: uint8 [T, H, W, 3], RGB.
    """
    background = appearance['background']
    frames = []
    for alpha, u, v in _object_layers(appearance, motion):
        obj = _sample_bilinear(appearance['texture'], u, v)
        alpha = alpha[..., None]
        frames.append(background * (1 - alpha) + obj * alpha)
    return np.clip(np.stack(frames), 0, 255).round().astype(np.uint8)


def render_masks(appearance: dict, motion: dict) -> np.ndarray:
    """Where the object is in each frame of a clip (the ground truth of a motion map).

    Args:
        appearance (dict): From :func:`sample_appearance`.
        motion (dict): From :func:`sample_motion`.

    Returns:
        np.ndarray: float32 [T, H, W], the object's coverage of each pixel in
        [0, 1] (1 inside, 0 on the background, fractional on its edge).
    """
    return np.stack([alpha for alpha, _, _ in _object_layers(appearance, motion)]
                    ).astype(np.float32)


def _clip_parts(label: int, seed: int, split: str, index: int, size: int,
                num_frames: int, spec: MotionSpec,
                classes: Sequence[str]) -> Tuple[dict, dict]:
    rng = np.random.default_rng([seed, SPLIT_IDS[split], index])
    appearance = sample_appearance(rng, size, spec)
    motion = sample_motion(label, num_frames, rng, size, spec, classes)
    return appearance, motion


def make_clip(label: int, seed: int, split: str, index: int, size: int,
              num_frames: int, spec: MotionSpec = MotionSpec(),
              classes: Sequence[str] = CLASSES) -> np.ndarray:
    """Render clip ``index`` of ``split``; the same arguments give the same clip.

    Returns:
        np.ndarray: uint8 [T, H, W, 3], RGB.
    """
    return render_clip(*_clip_parts(label, seed, split, index, size, num_frames,
                                    spec, classes))


def make_clip_masks(label: int, seed: int, split: str, index: int, size: int,
                    num_frames: int, spec: MotionSpec = MotionSpec(),
                    classes: Sequence[str] = CLASSES) -> np.ndarray:
    """The object's masks of the clip :func:`make_clip` renders with the same arguments.

    Returns:
        np.ndarray: float32 [T, H, W] in [0, 1]; see :func:`render_masks`.
    """
    return render_masks(*_clip_parts(label, seed, split, index, size, num_frames,
                                     spec, classes))


def split_labels(seed: int, split: str, num_videos: int,
                 num_classes: int) -> np.ndarray:
    """Balanced labels in a random order (names do not reveal the class)."""
    labels = np.arange(num_videos) % num_classes
    rng = np.random.default_rng([seed, SPLIT_IDS[split], 10**6])
    return rng.permutation(labels)


def write_rawframes(folder: str, frames: np.ndarray,
                    quality: int = 95) -> None:
    """Write RGB frames [T, H, W, 3] as ``{:05}.jpg`` files, from 00001."""
    import cv2
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
                classes=list(classes), layouts=list(layouts))
    with open(osp.join(out_dir, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    return meta


def load_flip_label_map(path: str) -> Dict[int, int]:
    """Read ``flip_label_map.json`` back as ``{int: int}`` for ``Flip``."""
    with open(path) as f:
        return {int(k): int(v) for k, v in json.load(f).items()}
