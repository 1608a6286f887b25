"""Motion visualisation: ms_plugin.visualization and tools/visualize_motion.py.

The figure tests use motion whose truth is known: a textured square moving
right at constant speed over a static background, with the displacement and
confidence computed by the plugin's ops (``local_correlation`` +
``kernel_soft_argmax``) on L2-normalised 3x3 patch features of the pixels at
half resolution (so the maps are upsampled 2x, as a network's would be). The
assertions read the colours back from the rendered figure.

What the confidence claims mean: confidence is the best correlation of a
source feature with the target frame, i.e. how well it found a match, not how
much it moved. So:

- on a *textured static* background it is high (the zero displacement matches
  exactly), as high as on the moving square; it is low only on the square's
  border, where the 3x3 patches mix the moving square with the background it
  uncovers or covers, so no displacement matches the whole patch;
- on a *flat* background the patch features are zero after removing their
  mean, so they match nothing: confidence 0 there, and the moving (textured)
  square is the only confident region (its border matches too: a flat
  background looks the same wherever the square is).
"""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib import colormaps
from matplotlib.colors import rgb_to_hsv
from PIL import Image
from conftest import TEST_CONFIGS, load_tool, write_clip_frames, write_frame_folder, write_mp4
from mmengine.config import Config
from torchvision.utils import flow_to_image

from ms_plugin.apis import build_recognizer, clip_motion, render_motion
from ms_plugin.apis.motion import motion_modules
from ms_plugin.cli import run_tool
from ms_plugin.utils.errors import InputError
from ms_plugin.ops import kernel_soft_argmax, l2_normalize, local_correlation
from ms_plugin.visualization import (draw_motion_figure, figure_to_array, motion_animation,
                                     motion_figure, write_images)

SIZE = 64         # frame side, pixels
SIDE = 20         # square side, pixels
SPEED = 4         # pixels per frame, rightwards (2 cells of the half-resolution grid)
START = (8, 22)   # square's top-left corner (x, y) in frame 0
NUM_FRAMES = 5
MAX_DISP = 3


def moving_square_clip(background: str, seed: int = 0) -> torch.Tensor:
    """``[T, 3, SIZE, SIZE]`` pixel values: a random-textured square moving right."""
    gen = torch.Generator().manual_seed(seed)
    if background == 'textured':
        canvas = torch.randint(0, 256, (3, SIZE, SIZE), generator=gen).float()
    else:
        canvas = torch.full((3, SIZE, SIZE), 128.0)
    square = torch.randint(0, 256, (3, SIDE, SIDE), generator=gen).float()
    frames = []
    for t in range(NUM_FRAMES):
        frame = canvas.clone()
        x, y = START[0] + SPEED * t, START[1]
        frame[:, y:y + SIDE, x:x + SIDE] = square
        frames.append(frame)
    return torch.stack(frames)


def pixel_motion(clip: torch.Tensor) -> torch.Tensor:
    """Motion ``[T, 3, SIZE/2, SIZE/2]`` (dx, dy, conf) from patch features, as a module has it."""
    half = F.avg_pool2d(clip, 2)  # [T, 3, H, W] -> [T, 3, H/2, W/2]
    t, c, h, w = half.shape
    patches = F.unfold(half, 3, padding=1)  # -> [T, 3*9, H/2 * W/2]
    patches = patches - patches.mean(dim=1, keepdim=True)
    feats = l2_normalize(patches.view(t, c * 9, h, w))  # -> [T, 27, H/2, W/2]
    corr = local_correlation(feats[:-1], feats[1:], MAX_DISP).relu()
    disp, conf = kernel_soft_argmax(corr, MAX_DISP)
    motion = torch.cat([disp, conf], dim=1)  # [T-1, 3, h, w]
    # The module's convention: T maps, the last repeating the last pair's.
    return torch.cat([motion, motion[-1:]])


def panel(fig, image: np.ndarray, row: int, col: int) -> np.ndarray:
    """The pixels of one panel of a rendered motion figure."""
    box = fig.axes_grid[row, col].images[0].get_window_extent()
    top = image.shape[0] - int(round(box.y1))
    bottom = image.shape[0] - int(round(box.y0))
    return image[top:bottom, int(round(box.x0)):int(round(box.x1))]


def sample(pixels: np.ndarray, x: float, y: float, radius: int = 2) -> np.ndarray:
    """Median colour of a panel around frame coordinates (x, y)."""
    row = int((y + 0.5) / SIZE * pixels.shape[0])
    col = int((x + 0.5) / SIZE * pixels.shape[1])
    window = pixels[row - radius:row + radius + 1, col - radius:col + radius + 1]
    return np.median(window.reshape(-1, 3), axis=0)


def hsv(rgb: np.ndarray) -> np.ndarray:
    return rgb_to_hsv(np.asarray(rgb, dtype=float) / 255.0)


def confidence_value(rgb: np.ndarray, cmap: str = 'viridis') -> float:
    """Invert the colour map: the value whose colour is nearest to ``rgb``."""
    table = colormaps[cmap](np.linspace(0, 1, 256))[:, :3] * 255
    return float(np.linspace(0, 1, 256)[np.argmin(((table - rgb) ** 2).sum(axis=1))])


@pytest.mark.parametrize('background', ['textured', 'flat'])
def test_figure_shows_rightward_motion_and_match_confidence(background):
    clip = moving_square_clip(background)
    motion = pixel_motion(clip)
    frames = clip.permute(0, 2, 3, 1).byte().numpy()  # [T, 3, H, W] -> [T, H, W, 3]
    fig = draw_motion_figure(frames, motion, max_displacement=MAX_DISP)
    image = figure_to_array(fig)
    assert fig.axes_grid.shape == (3, NUM_FRAMES - 1)  # one column per pair, not per map

    right = flow_to_image(torch.tensor([1.0, 0.0]).view(2, 1, 1)).view(3).numpy()
    for pair in range(NUM_FRAMES - 1):
        x = START[0] + SPEED * pair + SIDE / 2  # square's centre in frame `pair`
        y = START[1] + SIDE / 2
        flow = panel(fig, image, 1, pair)
        square, still = hsv(sample(flow, x, y)), hsv(sample(flow, 4, 4))
        # Hue of "right" at the square, clearly saturated; white where nothing moves.
        assert abs(square[0] - hsv(right)[0]) < 0.02, (pair, square, hsv(right))
        assert square[1] > 0.3, (pair, square)
        assert still[1] < 0.05, (pair, still)

        conf = panel(fig, image, 2, pair)
        on_square = confidence_value(sample(conf, x, y))
        off_square = confidence_value(sample(conf, 4, 4))
        # The square's right border in frame `pair`: background about to be covered.
        border = confidence_value(sample(conf, START[0] + SPEED * pair + SIDE + 1, y, radius=1))
        assert on_square > 0.95, (pair, on_square)
        if background == 'textured':
            assert off_square > 0.95, (pair, off_square)  # exact match at zero displacement
            assert border < on_square - 0.2, (pair, border, on_square)  # no match exists
        else:
            assert off_square < 0.05, (pair, off_square)  # nothing to match


def test_colours_are_normalised_over_the_clip():
    """The same displacement gets the same colour in every column, even where another
    column moves twice as far: colours are normalised once per clip."""
    motion = torch.zeros(3, 3, 4, 4)
    motion[0, 0] = 1 / MAX_DISP   # one cell right everywhere in pair 0
    motion[1, 0] = 2 / MAX_DISP   # two cells right in pair 1
    motion[2, 0] = 1 / MAX_DISP
    frames = np.zeros((4, SIZE, SIZE, 3), np.uint8)  # 4 frames, 3 pairs: [T-1, 3, h, w] maps
    fig = draw_motion_figure(frames, motion, max_displacement=MAX_DISP)
    image = figure_to_array(fig)
    one, two, again = (hsv(sample(panel(fig, image, 1, col), 32, 32)) for col in range(3))
    assert two[1] > 0.9 and 0.3 < one[1] < 0.7, (one, two)
    np.testing.assert_allclose(one, again, atol=0.02)
    with pytest.raises(ValueError, match='motion maps'):
        motion_figure(frames, torch.zeros(5, 3, 4, 4))


def test_written_files_have_the_figure_size_and_one_frame_per_pair(tmp_path):
    clip = moving_square_clip('textured')
    frames = clip.permute(0, 2, 3, 1).byte().numpy()  # [T, 3, H, W] -> [T, H, W, 3]
    motion = pixel_motion(clip)
    image = motion_figure(frames, motion, max_displacement=MAX_DISP)
    write_images(str(tmp_path / 'motion.png'), image)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / 'motion.png')), image)

    animation = motion_animation(frames, motion, max_displacement=MAX_DISP)
    assert len({a.shape for a in animation}) == 1
    write_images(str(tmp_path / 'motion.gif'), animation)
    with Image.open(tmp_path / 'motion.gif') as gif:
        assert gif.n_frames == NUM_FRAMES - 1
        assert gif.size == animation[0].shape[1::-1]
    write_images(str(tmp_path / 'motion.mp4'), animation)
    video = cv2.VideoCapture(str(tmp_path / 'motion.mp4'))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == NUM_FRAMES - 1
    assert int(video.get(cv2.CAP_PROP_FRAME_WIDTH)) == animation[0].shape[1]
    with pytest.raises(ValueError, match='unknown output type'):
        write_images(str(tmp_path / 'motion.tiff'), image)


# ------------------------------------------------------------------ model and CLI
MS_MODEL = "dict(type='MSNet', backbone=dict(type='ResNetTSM_MS', ms_stages=(1, )))"
# A plain TSM-R18 (no MotionSqueeze module), replacing the tiny config's model.
TSM_MODEL = """dict(
    _delete_=True,
    type='Recognizer2D',
    backbone=dict(type='ResNetTSM', depth=18, num_segments=4, pretrained=None,
                  pretrained2d=False),
    cls_head=dict(type='TSMHead', num_classes=3, in_channels=512, num_segments=4),
    data_preprocessor=dict(type='ActionDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], format_shape='NCHW'))"""


def write_config(path: Path, model: str = MS_MODEL) -> Path:
    """A config on the tiny test config (video data) with the given model."""
    path.write_text(f"_base_ = ['{TEST_CONFIGS / 'tiny_msnet_video.py'}']\nmodel = {model}\n")
    return path


@pytest.fixture(scope='module')
def cli_inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp('visualize_motion')
    frames = write_clip_frames(0, num_frames=8)
    write_mp4(root / 'clip.mp4', frames)
    write_frame_folder(root / 'frames', frames, 'img_{:05}.jpg')
    (root / 'broken.mp4').write_bytes(b'\x00not a video' * 64)
    return dict(root=root, config=write_config(root / 'tiny_ms.py'),
                no_ms=write_config(root / 'tiny_tsm.py', TSM_MODEL))


def _build(config) -> torch.nn.Module:
    model, _ = build_recognizer(str(config), warn_random=False)
    return model


def _main(tool, argv) -> int:
    """The tool's exit status, as its command line gets it."""
    return run_tool(tool.main, argv)


def test_render_motion_draws_the_first_view_and_restores_the_model(cli_inputs):
    torch.manual_seed(0)
    model = _build(cli_inputs['config']).train()
    (name, module), = motion_modules(model).items()
    views = 2 * module.num_segments
    clip = torch.randint(0, 256, (views, 3, 32, 32), dtype=torch.uint8)
    result = clip_motion(model, clip)
    assert result.module == name and result.max_displacement == module.max_displacement
    assert result.motion.shape[:2] == (module.num_segments, 3)  # the first view
    assert module.motion_sink is None and model.training  # left as found
    image = render_motion(model, clip)
    expected = motion_figure(clip[:module.num_segments].permute(0, 2, 3, 1).numpy(),
                             result.motion, max_displacement=module.max_displacement)
    np.testing.assert_array_equal(image, expected)


def test_cli_writes_png_from_video_and_gif_from_frames_with_checkpoint(
        cli_inputs, tmp_path, capsys):
    tool = load_tool('visualize_motion')
    png, gif = tmp_path / 'motion.png', tmp_path / 'motion.gif'
    assert _main(tool, [str(cli_inputs['config']), str(cli_inputs['root'] / 'clip.mp4'),
                        '--out', str(png)]) == 0
    assert 'random initialisation' in capsys.readouterr().out
    with Image.open(png) as written:
        width = written.size[0]
    torch.save(dict(state_dict=_build(cli_inputs['config']).state_dict()), tmp_path / 'ok.pth')
    assert _main(tool, [str(cli_inputs['config']), str(cli_inputs['root'] / 'frames'),
                        '--checkpoint', str(tmp_path / 'ok.pth'), '--out', str(gif)]) == 0
    assert 'random initialisation' not in capsys.readouterr().out
    num_segments = Config.fromfile(str(cli_inputs['config'])).num_segments
    with Image.open(gif) as animation:
        assert animation.n_frames == num_segments - 1
        # Each GIF frame is one pair's column; the PNG has all pairs side by side.
        assert animation.size[0] < width


def test_cli_errors_name_the_problem(cli_inputs, tmp_path):
    tool = load_tool('visualize_motion')
    config, video = str(cli_inputs['config']), str(cli_inputs['root'] / 'clip.mp4')
    out = str(tmp_path / 'x.png')

    with pytest.raises(InputError, match='cannot read video'):
        tool.main([config, str(cli_inputs['root'] / 'broken.mp4'), '--out', out])
    with pytest.raises(InputError, match='no MotionSqueeze module'):
        tool.main([str(cli_inputs['no_ms']), video, '--out', out])

    state = _build(config).state_dict()
    dropped = 'backbone.ms_layer2.reduce.conv.weight'
    state.pop(dropped)
    state['backbone.extra.weight'] = torch.zeros(1)
    torch.save(dict(state_dict=state), tmp_path / 'wrong.pth')
    with pytest.raises(InputError) as exit_info:
        tool.main([config, video, '--checkpoint', str(tmp_path / 'wrong.pth'), '--out', out])
    err = str(exit_info.value)
    assert 'missing keys (1)' in err and dropped in err
    assert 'unexpected keys (1)' in err and 'backbone.extra.weight' in err
    assert not Path(out).exists()
