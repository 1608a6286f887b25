"""Miniature Something-Something V1/V2, Kinetics-400 and HMDB51 in the layouts of the downloads.

Each writer puts what the official download holds under ``<root>/data/<dataset>/``
(frames or videos in their container and naming, the official annotation
files), then writes the annotation lists the way MMAction2 does: by running
the ``build_file_list.py`` of the installed mmaction2 package with the
arguments of its ``generate_*_filelist.sh``, read from the script itself. From
a pip install that means the package's ``.mim`` folder on ``PYTHONPATH`` and
the folder that holds ``data/`` as the working directory, as the README says.

The clips are tiny (a square moving over noise, the frames of
``conftest.write_clip_frames``) and there are two training videos and one
validation video per dataset, so one epoch is two iterations of batch 1.
"""
import csv
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import cv2
import mmaction

from conftest import write_clip_frames, write_frame_folder

MIM_ROOT = Path(mmaction.__file__).resolve().parent / '.mim'
LIST_SCRIPTS = {
    'sthv1': MIM_ROOT / 'tools/data/sthv1/generate_rawframes_filelist.sh',
    'sthv2': MIM_ROOT / 'tools/data/sthv2/generate_videos_filelist.sh',
    'kinetics400': MIM_ROOT / 'tools/data/kinetics/generate_videos_filelist.sh',
    'hmdb51': MIM_ROOT / 'tools/data/hmdb51/generate_videos_filelist.sh',
}
FRAME_SIZE = (80, 60)  # width, height: the pipelines resize to 224-256 anyway
NUM_FRAMES = 12
# The downloads' codecs: VP9 webm (V2), MPEG-4 mp4 (Kinetics), XviD avi (HMDB51).
FOURCC = {'.webm': 'VP90', '.mp4': 'mp4v', '.avi': 'XVID'}

# Real label names, in the official files' order where the download has one.
STHV1_LABELS = ['Approaching something with your camera', 'Attaching something to something',
                'Pushing something from left to right']
STHV2_TEMPLATES = ['Approaching something with your camera',
                   'Pushing something from left to right',
                   'Pushing something from right to left']
# Kinetics class names with spaces and parentheses; YouTube ids that start with '-'.
K400_CLASSES = ['abseiling', 'passing American football (in game)', 'tying bow tie']
K400_IDS = ['-3Ei4sA_wFc', '--07WQ2iBlw', 'zz9Kx_UxC1E', '-a_B3c_D4e0', 'Q0-x_9Zk2aA']
HMDB51_CLASSES = ['brush_hair', 'pour', 'sword_exercise']
# HMDB51 file names hold '#', '(', '!' and '&'.
HMDB51_NAMES = ['April_09_brush_hair_u_nm_np1_ba_goo_0',
                'Bartender_School_Students_Practice_(!)_pour_u_cm_np1_fr_med_1',
                'Blade_Of_Fury_#1_sword_exercise_f_cm_np1_ri_med_3',
                'Tom_&_Jerry_brush_hair_f_nm_np1_le_bad_2']


def full_label_list(names: List[str], num_classes: int = 174) -> List[str]:
    """The official label files list all 174 classes: ``names`` first, then stand-ins."""
    return names + [f'Doing something {i}' for i in range(len(names), num_classes)]


def _clip(index: int) -> List:
    return write_clip_frames(index % 3, NUM_FRAMES, FRAME_SIZE, seed=index)


def write_video(path: Path, frames: List) -> None:
    """Write BGR frames with the codec of the download the suffix stands for."""
    path = Path(path)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*FOURCC[path.suffix]), 8,
                             FRAME_SIZE)
    assert writer.isOpened(), f'OpenCV cannot write {path}'
    for frame in frames:
        writer.write(frame)
    writer.release()


def list_commands(dataset: str) -> List[List[str]]:
    """The ``build_file_list.py`` command lines of a ``generate_*_filelist.sh``.

    ``${DATASET}`` (the Kinetics script's argument) becomes ``kinetics400``.
    """
    commands = []
    for line in LIST_SCRIPTS[dataset].read_text().splitlines():
        if 'build_file_list.py' not in line:
            continue
        line = line.replace('${DATASET}', dataset)
        words = shlex.split(line.split('python', 1)[1])
        commands.append(words)
    assert commands, f'no build_file_list.py call in {LIST_SCRIPTS[dataset]}'
    return commands


def build_lists(root: Path, dataset: str) -> None:
    """Run MMAction2's list tool as its script does, from the folder that holds ``data/``."""
    env = dict(os.environ, PYTHONPATH=str(MIM_ROOT))
    for words in list_commands(dataset):
        script = MIM_ROOT / words[0]  # tools/data/build_file_list.py
        proc = subprocess.run([sys.executable, str(script)] + words[1:], cwd=str(root), env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]


def write_sthv1(root: Path) -> None:
    """``data/sthv1/rawframes/<id>/00001.jpg ...`` and the ``;``-separated csv files."""
    base = root / 'data' / 'sthv1'
    (base / 'annotations').mkdir(parents=True, exist_ok=True)
    rows = {'train': [(1001, 2), (1002, 0)], 'validation': [(1003, 1)]}
    for split, items in rows.items():
        for video_id, label in items:
            write_frame_folder(base / 'rawframes' / str(video_id), _clip(video_id))
        lines = [f'{video_id};{STHV1_LABELS[label]}' for video_id, label in items]
        (base / 'annotations' / f'something-something-v1-{split}.csv').write_text(
            '\n'.join(lines) + '\n')
    (base / 'annotations' / 'something-something-v1-test.csv').write_text('1004\n')
    (base / 'annotations' / 'something-something-v1-labels.csv').write_text(
        '\n'.join(full_label_list(STHV1_LABELS)) + '\n')


def write_sthv2(root: Path) -> None:
    """``data/sthv2/videos/<id>.webm`` (VP9) and the json files."""
    base = root / 'data' / 'sthv2'
    (base / 'annotations').mkdir(parents=True, exist_ok=True)
    (base / 'videos').mkdir(parents=True, exist_ok=True)
    rows = {'train': [(2001, 1), (2002, 2)], 'validation': [(2003, 0)]}
    for split, items in rows.items():
        entries = []
        for video_id, label in items:
            write_video((base / 'videos' / f'{video_id}.webm'), _clip(video_id))
            template = STHV2_TEMPLATES[label].replace('something', '[something]')
            entries.append(dict(id=str(video_id), label=template.replace('[', '').replace(
                ']', ''), template=template, placeholders=['a cup']))
        (base / 'annotations' / f'something-something-v2-{split}.json').write_text(
            json.dumps(entries))
    (base / 'annotations' / 'something-something-v2-test.json').write_text(
        json.dumps([dict(id='2004')]))
    (base / 'annotations' / 'something-something-v2-labels.json').write_text(
        json.dumps({name: str(i) for i, name in enumerate(full_label_list(STHV2_TEMPLATES))}))


def write_kinetics400(root: Path) -> None:
    """``data/kinetics400/videos_{train,val}/<class>/<id>_<start>_<end>.mp4`` and csv files.

    The class folders have ``_`` for spaces, as the download script writes them.
    """
    base = root / 'data' / 'kinetics400'
    (base / 'annotations').mkdir(parents=True, exist_ok=True)
    # The tool numbers the classes of the training csv in sorted order, so
    # every class has a training video.
    rows = {'train': [(0, 2), (1, 1), (4, 0)], 'val': [(2, 0)], 'test': [(3, 0)]}
    for split, items in rows.items():
        with open(base / 'annotations' / f'kinetics_{split}.csv', 'w', newline='') as fout:
            writer = csv.writer(fout)
            writer.writerow(['label', 'youtube_id', 'time_start', 'time_end', 'split'])
            for index, label in items:
                name, start = K400_CLASSES[label], 10 * index
                writer.writerow([name, K400_IDS[index], start, start + 10, split])
                if split == 'test':
                    continue
                folder = base / f'videos_{split}' / name.replace(' ', '_')
                folder.mkdir(parents=True, exist_ok=True)
                file = f'{K400_IDS[index]}_{start:06d}_{start + 10:06d}.mp4'
                write_video((folder / file), _clip(3000 + index))


def write_hmdb51(root: Path) -> None:
    """``data/hmdb51/videos/<class>/<name>.avi`` and ``<class>_test_split{1,2,3}.txt``.

    A split file marks each video 1 (train), 2 (test) or 0 (unused).
    """
    base = root / 'data' / 'hmdb51'
    (base / 'annotations').mkdir(parents=True, exist_ok=True)
    marks = {}
    for index, name in enumerate(HMDB51_NAMES):
        label = index % len(HMDB51_CLASSES)
        folder = base / 'videos' / HMDB51_CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        write_video((folder / f'{name}.avi'), _clip(4000 + index))
        marks.setdefault(label, []).append((name, '2' if index == 2 else '1'))
    for label, class_name in enumerate(HMDB51_CLASSES):
        for split in (1, 2, 3):
            lines = [f'{name}.avi {mark} ' for name, mark in marks.get(label, [])]
            (base / 'annotations' / f'{class_name}_test_split{split}.txt').write_text(
                '\n'.join(lines) + '\n')


WRITERS = dict(sthv1=write_sthv1, sthv2=write_sthv2, kinetics400=write_kinetics400,
               hmdb51=write_hmdb51)


def write_mmaction_datasets(root: Path) -> Dict[str, List[str]]:
    """Write the four miniature downloads under ``root/data`` and build their lists.

    Returns:
        dict[str, list[str]]: For each dataset, the annotation lists written
        by MMAction2's tool (paths relative to ``root``).
    """
    root = Path(root)
    lists = {}
    for dataset, write in WRITERS.items():
        write(root)
        build_lists(root, dataset)
        lists[dataset] = sorted(str(p.relative_to(root))
                                for p in (root / 'data' / dataset).glob('*_list_*.txt'))
        lists[dataset] += sorted(str(p.relative_to(root))
                                 for p in (root / 'data' / dataset).glob('*_split_*.txt'))
    return lists


def list_lines(path: Path) -> List[str]:
    """The non-empty lines of an annotation list."""
    return [line for line in Path(path).read_text().splitlines() if line.strip()]


def label_of(line: str) -> int:
    """The label at the end of an annotation line."""
    return int(re.split(r'\s+', line.strip())[-1])


def write_damaged_videos(root: Path) -> Path:
    """Two damaged downloads that open, in ``root/data/damaged/`` (apart from the datasets).

    ``truncated.avi``: 35 XviD frames cut to a third of the file; decord rebuilds
    the index from what is left and decodes every frame of it (6), while the
    header declares 35. ``garbage.webm``: 14 VP9 frames with random bytes
    (seeded) over the middle third; FFmpeg logs ``Truncating packet`` and
    decord's index keeps 5 frames, all of which decode. Each frame has its own
    noise, so the frames are of similar sizes.

    Returns:
        Path: ``damaged_list_videos.txt``, MMAction2's video-list format.
    """
    import numpy as np

    base = root / 'data' / 'damaged'
    base.mkdir(parents=True, exist_ok=True)
    for name, num_frames in (('truncated.avi', 35), ('garbage.webm', 14)):
        path = base / name
        write_video(path, [write_clip_frames(i % 3, 1, FRAME_SIZE, seed=i)[0]
                           for i in range(num_frames)])
        data = bytearray(path.read_bytes())
        third = len(data) // 3
        if path.suffix == '.avi':
            data = data[:third]
        else:
            data[third:2 * third] = np.random.default_rng(1).bytes(third)
        path.write_bytes(bytes(data))
    (base / 'damaged_list_videos.txt').write_text('truncated.avi 0\ngarbage.webm 1\n')
    return base / 'damaged_list_videos.txt'
