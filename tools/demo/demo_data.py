"""The data of ``make demo``: its synthetic motion dataset, written once and reused.

The demo writes the 5 translation classes (still, left, right, up, down) with
larger and faster objects than the generator's defaults into
``WORK_DIR/data``; a later run with the same settings reuses it. Before
anything is written, :func:`check_work_dir` refuses a work dir that cannot be
written or whose disk is too full.
"""
import argparse
import json
import math
import os
import os.path as osp
import shutil
from typing import Callable, List, Optional

from ms_plugin.cli import check_output_dir
from synthetic_writer import TRANSLATION_CLASSES, MotionSpec, write_dataset
from ms_plugin.utils.errors import InputError

__all__ = [
    'DATA_MARKER', 'OBJECT_RADIUS', 'OBJECT_SPEED', 'check_work_dir',
    'data_options', 'demo_classes', 'demo_spec', 'make_data', 'model_options',
    'needed_megabytes', 'prepare_data_dir', 'wanted_meta'
]

# The demo's objects are larger and faster than the generator's defaults: a
# radius of 0.25 to 0.35 frame sides (24 to 34 px at 96 px; default 0.18 to
# 0.3) and 0.2 to 0.28 frame sides per frame (19 to 27 px, 2.4 to 3.4 cells of
# the MS module's 12x12 grid; default 0.14 to 0.2). More cells move, by more:
# MSNet-R18 learns the directions within the demo's budget (docs/demo.md has
# the runs behind these values).
OBJECT_RADIUS = (0.25, 0.35)
OBJECT_SPEED = (0.2, 0.28)
# Disk the demo needs besides its data: one checkpoint per model (weights and
# SGD momentum of an R18, about 90 MB) and logs, with a margin.
MB_PER_MODEL = 150
MB_MARGIN = 50
# Bytes of one mp4 video of the dataset per pixel of one frame (measured: about
# 8 kB for 8 frames of 96x96), with a margin.
VIDEO_BYTES_PER_PIXEL = 2.0
# The file the demo writes first into its data folder: a folder with it is the
# demo's own, which --force (or an interrupted write) may replace.
DATA_MARKER = '.written_by_tools_demo'
_WORK_DIR_HINT = ("run the demo from a writable copy of the repository, or point it "
                  "elsewhere: make demo DEMO_ARGS='--work-dir /tmp/ms_demo' (python "
                  "tools/demo.py --work-dir DIR)")


def needed_megabytes(args: argparse.Namespace) -> int:
    """Disk the demo needs: its videos, one checkpoint per model, logs."""
    videos = args.num_videos + args.val_videos
    data = videos * args.frames * args.size**2 * VIDEO_BYTES_PER_PIXEL / 8 / 2**20
    return int(math.ceil(data)) + MB_PER_MODEL * len(args.models) + MB_MARGIN


def check_work_dir(work_dir: str, megabytes: int) -> None:
    """Stop before any work if ``work_dir`` cannot be written or its disk is too full.

    Raises:
        InputError: Naming the problem and what to do about it.
    """
    try:
        check_output_dir(work_dir, '--work-dir')
    except InputError as err:
        raise InputError(f'{err} The demo writes its data, logs and checkpoints there: '
                        f'{_WORK_DIR_HINT}.') from err
    free = shutil.disk_usage(work_dir).free / 2**20
    if free < megabytes:
        raise InputError(f'only {free:.0f} MB free on the disk of {work_dir}; the demo needs '
                        f'about {megabytes} MB (data, one checkpoint per model, logs). Free '
                        f'some space, or {_WORK_DIR_HINT} on another disk.')


def demo_spec(args: argparse.Namespace) -> MotionSpec:
    """The demo's :class:`MotionSpec`: ``--speed``, ``--radius``, the generator's zoom and spin."""
    return MotionSpec(speed=tuple(args.speed), radius=tuple(args.radius))


def demo_classes() -> tuple:
    """The demo's classes: still, or moving left, right, up or down (``--class-set translation``).

    The demo's configs (``configs/synthetic/``) are sized for them (``num_classes = 5``).
    """
    return TRANSLATION_CLASSES


def wanted_meta(args: argparse.Namespace) -> dict:
    """The ``meta.json`` of the dataset the demo's arguments ask for."""
    wanted = dict(num_videos=dict(train=args.num_videos, val=args.val_videos), seed=args.seed,
                  size=args.size, num_frames=args.frames, spec=demo_spec(args).__dict__,
                  classes=demo_classes())
    # As meta.json holds it (tuples become lists), to compare with it.
    return json.loads(json.dumps(wanted))


def prepare_data_dir(data_dir: str, wanted: dict, force: bool) -> bool:
    """Decide whether ``data_dir`` is reused; clear it when it is to be written again.

    Returns:
        bool: True if ``data_dir`` already holds the wanted dataset.

    Raises:
        InputError: If ``data_dir`` holds files the demo did not write, or a
            dataset of other settings without ``--force``.
    """
    if not osp.isdir(data_dir) or not os.listdir(data_dir):
        return False
    meta_file = osp.join(data_dir, 'meta.json')
    if not osp.exists(osp.join(data_dir, DATA_MARKER)):
        raise InputError(f'{data_dir} holds files that the demo did not write (no '
                        f'{DATA_MARKER}); the demo neither reuses nor deletes them. Move them '
                        'away, or choose another --work-dir.')
    meta = None
    if osp.exists(meta_file):
        with open(meta_file) as f:
            meta = json.load(f)
    same = meta is not None and all(meta.get(k) == v for k, v in wanted.items())
    if same and not force:
        return True
    if meta is not None and not same and not force:
        differences = {k: meta.get(k) for k, v in wanted.items() if meta.get(k) != v}
        raise InputError(f'{data_dir} holds a dataset of other settings ({differences}; wanted '
                        f'{ {k: wanted[k] for k in differences} }). Write it again with '
                        "--force (make demo DEMO_ARGS=--force), or choose another "
                        '--work-dir.')
    # --force, or a write that was interrupted (no meta.json): start again.
    shutil.rmtree(data_dir)
    return False


def make_data(args: argparse.Namespace, data_dir: str,
              progress: Optional[Callable[[str, int, int], None]] = None) -> bool:
    """Write the demo's dataset into ``data_dir``, unless it is there already.

    Args:
        args (Namespace): The demo's arguments (sizes, seed, ``force``).
        data_dir (str): The folder.
        progress (Callable, optional): ``progress(split, done, count)``
            after each video. Defaults to None.

    Returns:
        bool: True if the data was reused, False if it was written.
    """
    wanted = wanted_meta(args)
    if prepare_data_dir(data_dir, wanted, args.force):
        return True
    os.makedirs(data_dir)
    open(osp.join(data_dir, DATA_MARKER), 'w').close()
    write_dataset(data_dir, wanted['num_videos'], seed=args.seed, size=args.size,
                  num_frames=args.frames, spec=demo_spec(args), classes=demo_classes(),
                  layouts=('videos', ), progress=progress)
    return False


def data_options(data_dir: str) -> List[str]:
    """``--cfg-options`` pointing the dataloaders at ``data_dir``."""
    options = []
    for loader, split in (('train_dataloader', 'train'), ('val_dataloader', 'val'),
                          ('test_dataloader', 'val')):
        options += [
            f'{loader}.dataset.ann_file={data_dir}/{split}_list_videos.txt',
            f'{loader}.dataset.data_prefix.video={data_dir}/videos'
        ]
    return options


def model_options(frames: int, temporal: bool = True) -> List[str]:
    """``--cfg-options`` for clips of ``frames`` frames.

    Args:
        frames (int): Frames per clip.
        temporal (bool): Whether the model has a frame count of its own
            (TSM, MSNet); TSN's 2D ResNet and head take any. Defaults to True.
    """
    options = []
    if temporal:
        options += [f'model.backbone.num_segments={frames}',
                    f'model.cls_head.num_segments={frames}']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options.append(f'{loader}.dataset.pipeline.1.num_clips={frames}')
    return options
