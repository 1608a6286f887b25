"""Shared test helpers: tiny synthetic video data and the environment for subprocesses.

Fixtures:
    scratch_tmpdir (session, automatic): ``TMPDIR`` for the tests and the
        processes they start, inside pytest's temporary folder.
    tiny_data (session): a folder written by :func:`write_tiny_dataset`, the
        layout that ``tests/configs/tiny_msnet_*.py`` read through the
        ``MS_TINY_DATA`` environment variable.
    tool_env: environment for running ``mim``, ``torchrun`` and ``tools/*``
        as subprocesses on ``tiny_data`` (venv ``bin`` first on PATH, one
        CPU thread, ``MS_TINY_DATA`` set).

Functions (importable as ``from conftest import ...``):
    write_clip_frames, write_mp4, write_frame_folder, write_tiny_dataset, subprocess_env, run_tool,
    latest_run_dir, read_json_lines, load_tool.
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

import cv2
import numpy as np
import pytest
import torch

from ms_plugin.utils.video import write_video

REPO_ROOT = Path(__file__).resolve().parents[1]
# `make test` runs two pytest-xdist workers on the machine's two cores: one
# thread each (oversubscribed oneDNN threads wait on each other); two alone.
CPU_THREADS = 1 if os.environ.get('PYTEST_XDIST_WORKER') else 2
if os.environ.get('PYTEST_XDIST_WORKER'):
    torch.set_num_threads(1)
TEST_CONFIGS = REPO_ROOT / 'tests' / 'configs'
# The synthetic data generator (not installed: it serves the tools, the demo and these tests).
sys.path.insert(0, str(REPO_ROOT / 'tools' / 'data' / 'synthetic'))
VENV_BIN = Path(sys.executable).parent

# Each class moves a bright square in its own direction (dx, dy pixels per frame),
# so the classes differ in motion only.
CLASS_MOTIONS = ((2, 0), (0, 2), (-2, -2))


def write_clip_frames(label: int, num_frames: int = 8, size: tuple = (56, 40),
                      seed: int = 0) -> List[np.ndarray]:
    """BGR uint8 frames of one synthetic clip: a square moving by ``CLASS_MOTIONS[label]``.

    Args:
        label (int): Class index into ``CLASS_MOTIONS``.
        num_frames (int): Number of frames. Defaults to 8.
        size (tuple): Frame (width, height). Defaults to (56, 40).
        seed (int): Seed of the noisy background and start position. Defaults to 0.

    Returns:
        list[np.ndarray]: ``num_frames`` arrays of shape [H, W, 3].
    """
    width, height = size
    rng = np.random.default_rng(seed)
    dx, dy = CLASS_MOTIONS[label % len(CLASS_MOTIONS)]
    side = 10
    x0 = int(rng.integers(side, width - 2 * side))
    y0 = int(rng.integers(side, height - 2 * side))
    background = rng.integers(0, 60, size=(height, width, 3), dtype=np.uint8)
    frames = []
    for t in range(num_frames):
        frame = background.copy()
        x = int(np.clip(x0 + dx * t, 0, width - side))
        y = int(np.clip(y0 + dy * t, 0, height - side))
        frame[y:y + side, x:x + side] = (40 + 80 * label, 220, 255 - 60 * label)
        frames.append(frame)
    return frames


def write_mp4(path: Path, frames: List[np.ndarray], fps: int = 8) -> None:
    """Write BGR frames to an mp4 file (mp4v codec), with the package's writer."""
    write_video(str(path), frames, fps=fps, channel_order='bgr')


def write_frame_folder(folder: Path, frames: List[np.ndarray],
                       template: str = '{:05}.jpg') -> None:
    """Write BGR frames as JPEG files named ``template.format(t)``, from t = 1."""
    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(frames, start=1):  # RawframeDataset starts at 1
        cv2.imwrite(str(folder / template.format(t)), frame)


def write_tiny_dataset(root: Path, clips_per_class: int = 2, num_frames: int = 8,
                       size: tuple = (56, 40)) -> Dict[str, Path]:
    """Write the same clips as mp4 videos and as JPEG frame folders, with annotation lists.

    Layout under ``root``::

        videos/clip_<i>.mp4               train_videos.txt     (`clip_<i>.mp4 label`)
        rawframes/clip_<i>/00001.jpg ...  train_rawframes.txt  (`clip_<i> num_frames label`)
                                          val_videos.txt, val_rawframes.txt (first clip per class)

    Args:
        root (Path): Folder to write into (created if missing).
        clips_per_class (int): Clips per class of ``CLASS_MOTIONS``. Defaults to 2.
        num_frames (int): Frames per clip. Defaults to 8.
        size (tuple): Frame (width, height). Defaults to (56, 40).

    Returns:
        dict[str, Path]: ``root`` and the four annotation files, keyed by stem
        (``train_videos``, ``val_videos``, ``train_rawframes``, ``val_rawframes``).
    """
    root = Path(root)
    (root / 'videos').mkdir(parents=True, exist_ok=True)
    lines = dict(train_videos=[], val_videos=[], train_rawframes=[], val_rawframes=[])
    index = 0
    for label in range(len(CLASS_MOTIONS)):
        for repeat in range(clips_per_class):
            name = f'clip_{index}'
            frames = write_clip_frames(label, num_frames, size, seed=index)
            write_mp4(root / 'videos' / f'{name}.mp4', frames)
            write_frame_folder(root / 'rawframes' / name, frames)
            splits = ('train', 'val') if repeat == 0 else ('train', )
            for split in splits:
                lines[f'{split}_videos'].append(f'{name}.mp4 {label}')
                lines[f'{split}_rawframes'].append(f'{name} {num_frames} {label}')
            index += 1
    paths = dict(root=root)
    for stem, entries in lines.items():
        paths[stem] = root / f'{stem}.txt'
        paths[stem].write_text('\n'.join(entries) + '\n')
    return paths


def subprocess_env(data_root: Optional[Path] = None) -> Dict[str, str]:
    """Environment for the plugin's command-line tools run from the tests.

    The venv's ``bin`` goes first on PATH (``mim``, ``torchrun``, ``python``),
    the repository on PYTHONPATH, one CPU thread per process, and
    ``MS_TINY_DATA`` when ``data_root`` is given.
    """
    env = dict(os.environ)
    env['PATH'] = os.pathsep.join([str(VENV_BIN), env.get('PATH', '')])
    env['PYTHONPATH'] = os.pathsep.join(
        [str(REPO_ROOT)] + ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
    env['OMP_NUM_THREADS'] = '1'
    env['MKL_NUM_THREADS'] = '1'
    env.setdefault('PYTHONWARNINGS', 'ignore')
    if data_root is not None:
        env['MS_TINY_DATA'] = str(data_root)
    return env


@pytest.fixture(scope='session', autouse=True)
def scratch_tmpdir(tmp_path_factory) -> Path:
    """``TMPDIR`` of this process and of the tools it starts: a folder of pytest's own.

    torchrun's log folders (``torchelastic_*``), multiprocessing's
    (``pymp-*``) and the tools' temporary files land there, and pytest
    removes it with its older runs, instead of leaving them in the system's
    temporary folder after every run (a killed process cleans up nothing).
    """
    folder = tmp_path_factory.mktemp('tmpdir')
    with pytest.MonkeyPatch.context() as patch:  # undone at the end of the session
        patch.setenv('TMPDIR', str(folder))
        patch.setattr(tempfile, 'tempdir', str(folder))
        yield folder


def pytest_configure(config):
    """Refuse --dist loadgroup where it would not group (pytest >= 9.2 with xdist <= 3.8)."""
    major = int(pytest.__version__.split('.')[0])
    if config.getoption('dist', 'no') == 'loadgroup' and major >= 9:
        raise pytest.UsageError(
            f'pytest {pytest.__version__} with pytest-xdist --dist loadgroup does not keep an '
            'xdist_group on one worker (the doc tests depend on it); install the tests extra '
            "(pip install -e '.[tests]': pytest < 9) or run without -n.")


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory) -> Path:
    """Root of a tiny synthetic dataset (see :func:`write_tiny_dataset`), written once."""
    root = tmp_path_factory.mktemp('tiny_data')
    write_tiny_dataset(root)
    return root


@pytest.fixture
def tool_env(tiny_data) -> Dict[str, str]:
    """:func:`subprocess_env` pointing ``MS_TINY_DATA`` at ``tiny_data``."""
    return subprocess_env(tiny_data)


def run_tool(cmd: List[str], env: Dict[str, str], cwd: Path,
             timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a command-line tool; fail the test with the end of its output if rc != 0."""
    proc = subprocess.run([str(part) for part in cmd], env=env, cwd=str(cwd), timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, (
        f'{" ".join(map(str, cmd))} exited with {proc.returncode}:\n{proc.stdout[-4000:]}')
    return proc


def latest_run_dir(work_dir: Path) -> Path:
    """The newest ``<timestamp>/`` folder an MMEngine Runner wrote under ``work_dir``."""
    runs = sorted(path for path in Path(work_dir).iterdir()
                  if path.is_dir() and path.name[:8].isdigit())
    assert runs, f'no MMEngine run folder under {work_dir}'
    return runs[-1]


def read_json_lines(path: Path) -> List[dict]:
    """Records of an MMEngine json log (one JSON object a line), e.g. vis_data/scalars.json."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def load_tool(name: str):
    """Import ``tools/<name>.py`` as a module (the tools folder is not a package).

    Args:
        name (str): The path under ``tools/`` without ``.py``, e.g.
            ``'train'`` or ``'deployment/export_onnx'``.
    """
    path = REPO_ROOT / 'tools' / f'{name}.py'
    tools_dir = str(path.parent)
    if tools_dir not in sys.path:  # tools/test.py imports its sibling train.py
        sys.path.append(tools_dir)  # last: `tools/test.py` must not shadow anything
    module_name = 'ms_plugin_tools_' + name.replace('/', '_')
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------- a user's folder with MMAction2's data
def write_offline_weights(torch_home: Path, user_root: Path) -> None:
    """Randomly initialised stand-ins for the ImageNet weights the shipped configs name.

    They lie where a user without internet access puts the real files
    (README, "Train on your own data"): the torch hub cache of ``torch_home``
    for ``torchvision://resnet50`` and ``mmcls://mobilenet_v2``, and
    ``checkpoints/timm/`` of the launch folder for the timm config.
    """
    import timm
    import torch
    import torchvision
    from mmaction.registry import MODELS

    from ms_plugin.engine.runner import offline_weights_path

    hub_dir = torch.hub.get_dir()
    try:
        torch.hub.set_dir(str(torch_home / 'hub'))  # offline_weights_path reads the hub dir
        torch.manual_seed(0)
        resnet = torchvision.models.resnet50().state_dict()
        mobilenet = {f'backbone.{key}': value for key, value in
                     MODELS.build(dict(type='MobileNetV2')).state_dict().items()}
        # MMAction2's SlowOnly config names torchvision's newer ResNet-50 file by URL.
        for spec, state in (('torchvision://resnet50', resnet),
                            ('https://download.pytorch.org/models/resnet50-11ad3fa6.pth', resnet),
                            ('mmcls://mobilenet_v2', dict(state_dict=mobilenet))):
            path = Path(offline_weights_path(spec))
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(state, path)
        timm_file = user_root / 'checkpoints' / 'timm' / 'mobilenetv3_large_100.pth'
        timm_file.parent.mkdir(parents=True, exist_ok=True)
        torch.save(timm.create_model('mobilenetv3_large_100').state_dict(), timm_file)
    finally:
        torch.hub.set_dir(hub_dir)


@pytest.fixture(scope='session')
def user_root(tmp_path_factory) -> Path:
    """A user's launch folder: ``data/`` as MMAction2's tools write it, the repository's
    ``configs/`` and ``tools/`` (links), and the ImageNet weights placed for offline use.

    The four miniature datasets are written by :mod:`mmaction_data` (lists by
    MMAction2's own ``build_file_list.py``); ``TORCH_HOME`` of :func:`user_env`
    is ``<user_root>/../torch_home``.
    """
    from mmaction_data import write_mmaction_datasets

    root = tmp_path_factory.mktemp('user')
    write_mmaction_datasets(root)
    for name in ('configs', 'tools'):
        (root / name).symlink_to(REPO_ROOT / name, target_is_directory=True)
    write_offline_weights(root.parent / 'torch_home', root)
    return root


@pytest.fixture
def user_env(user_root) -> Dict[str, str]:
    """Environment for commands run in :func:`user_root`: :func:`subprocess_env`, the
    offline weights' ``TORCH_HOME``, proxies that refuse every download at once, and
    two CPU threads."""
    env = subprocess_env()
    env['TORCH_HOME'] = str(user_root.parent / 'torch_home')
    for key in ('http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY'):
        env[key] = 'http://127.0.0.1:9'  # nothing listens there: no download can hang
    env.pop('no_proxy', None)
    env.pop('NO_PROXY', None)
    env['HF_HUB_OFFLINE'] = '1'
    # The R50 runs here are the slowest of the suite: every core of this test process.
    env['OMP_NUM_THREADS'] = env['MKL_NUM_THREADS'] = str(CPU_THREADS)
    return env


def randomize_norms(module) -> None:
    """Give every BatchNorm2d of ``module`` random statistics and affine weights (no grad),
    so that eval-mode results depend on them."""
    import torch
    with torch.no_grad():
        for norm in module.modules():
            if isinstance(norm, torch.nn.BatchNorm2d):
                norm.running_mean.normal_(0, 0.1)
                norm.running_var.uniform_(0.5, 2.0)
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.normal_(0, 0.1)
