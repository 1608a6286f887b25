"""Rendering of the synthetic motion clips: pure numpy, the same arguments give the same clip.

An object of random shape, colours and texture moves over a random static
background as its class says (see ``synthetic_writer``).
"""
import math
from typing import Sequence, Tuple

import numpy as np

from synthetic_classes import CLASSES, SHAPES, SPLIT_IDS, MotionSpec

__all__ = ['make_clip', 'make_clip_masks', 'random_texture', 'render_clip', 'render_masks',
           'sample_appearance', 'sample_motion']


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
