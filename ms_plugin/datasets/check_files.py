"""Checks of a config's datasets before a long job: files, frame counts, labels.

:func:`check_datasets` builds the datasets of a config's data loaders and
checks, sample by sample, that each video or frame folder exists and opens,
that a frame folder holds the frames its list line says, and that the labels
and the flip label maps fit ``model.cls_head.num_classes``
(:mod:`ms_plugin.datasets.check`, shared with ``LabelCheckHook``). With
``decode=True`` every frame is decoded too, and damaged but openable files are
found: decord prints FFmpeg's errors on stderr from C code and goes on, so the
checks read file descriptor 2 around each decode. ``tools/data/check_dataset.py``
is the command line of this module.
"""
import contextlib
import os
import os.path as osp
import re
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Set

import decord
from mmaction.registry import DATASETS
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

from .check import (Problem, flip_map_problems, label_problems, leaf_datasets, sample_infos,
                    sample_path)
from .transforms.unreadable_video import frame_error, frame_files

__all__ = ['SplitReport', 'check_datasets', 'video_problems', 'frame_folder_problems',
           'captured_stderr']

# decord's messages start with a time and a source position: "[14:51:10] src/x.cc:486: "
DECORD_PREFIX = re.compile(r'\[\d\d:\d\d:\d\d\] \S+:\d+: ')
# FFmpeg's log lines: "[mpeg4 @ 0x55dd51f24400] ac-tex damaged at 3 1"
FFMPEG_LINE = re.compile(r'^\[[^\]]+ @ 0x[0-9a-f]+\] ')


@dataclass
class SplitReport:
    """What :func:`check_datasets` found in one split.

    Args:
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        num_samples (int): Samples read from the annotation file(s).
        classes (set[int]): The labels used.
        problems (list[Problem]): Everything wrong, in file order.
    """

    split: str
    num_samples: int = 0
    classes: Set[int] = field(default_factory=set)
    problems: List[Problem] = field(default_factory=list)


@contextlib.contextmanager
def captured_stderr() -> Iterator[List[str]]:
    """Collect what is written to file descriptor 2 in the block, C libraries included.

    Yields:
        list[str]: Filled with the lines when the block ends.
    """
    lines: List[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield lines
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines.extend(tmp.read().decode(errors='replace').splitlines())


def _short(err: Exception) -> str:
    text = DECORD_PREFIX.sub('', ' '.join(str(err).split()))
    return text[-200:] if len(text) > 200 else text


def _decoder_errors(lines: Sequence[str]) -> Optional[str]:
    errors = [line for line in lines if FFMPEG_LINE.match(line) or 'Corrupt JPEG' in line
              or 'Premature end' in line]
    if not errors:
        return None
    more = f' (+{len(errors) - 1} more line(s))' if len(errors) > 1 else ''
    return f'decoder errors: {errors[0].strip()}{more}'


def video_problems(path: str, decode: bool = False) -> List[str]:
    """Why a video file cannot be used, or an empty list.

    Args:
        path (str): The video file.
        decode (bool): Also decode every frame, and report decoder errors and
            fewer frames than the container declares. Defaults to False.

    Returns:
        list[str]: One message per problem.
    """
    if not osp.isfile(path):
        return ['no such file']
    if osp.getsize(path) == 0:
        return ['the file is empty']
    decoded = None
    with captured_stderr() as log:  # also keeps FFmpeg's lines off the progress bar
        try:
            reader = decord.VideoReader(path, num_threads=1)
            declared = len(reader)
            if decode:
                decoded = 0
                for _ in range(declared):  # in order: no seek per frame
                    reader.next()
                    decoded += 1
        except Exception as err:  # decord raises DECORDError (a RuntimeError) and others
            if decoded is None:
                return [f'cannot be opened: {_short(err)}']
    problems = [] if declared else ['the container declares no frames']
    if decode and decoded < declared:
        problems.append(f'decodes {decoded} of the {declared} frames the container declares')
    errors = _decoder_errors(log) if decode else None
    return problems + ([errors] if errors else [])


def frame_folder_problems(info: dict, decode: bool = False) -> List[str]:
    """Why a frame folder does not hold the frames its list line says, or an empty list.

    Args:
        info (dict): A ``RawframeDataset`` record with ``frame_dir``,
            ``total_frames``, ``filename_tmpl``, ``start_index``, ``modality``.
        decode (bool): Also decode every frame. Defaults to False.

    Returns:
        list[str]: One message per problem.
    """
    folder, total = info['frame_dir'], int(info['total_frames'])
    if not osp.isdir(folder):
        return ['no such folder']
    start = int(info.get('start_index', 1))
    names = set(os.listdir(folder))
    expected = frame_files(info, range(start, start + total))
    missing = [path for path in expected if osp.basename(path) not in names]
    on_disk = start
    while all(osp.basename(p) in names for p in frame_files(info, [on_disk])):
        on_disk += 1
    on_disk -= start
    if missing:
        return [f'the list says {total} frames, the folder has {on_disk} '
                f'({osp.basename(missing[0])} is missing)']
    if 'offset' not in info and on_disk > total:
        return [f'the list says {total} frames, the folder has {on_disk}']
    if not decode:
        return []
    for path in expected:
        with captured_stderr() as log:
            reason = frame_error(path)
        reason = reason or _decoder_errors(log)
        if reason:
            return [f'frame {osp.basename(path)}: {reason}']
    return []


def _file_problems(info: dict, decode: bool) -> List[str]:
    if info.get('frame_dir'):
        return frame_folder_problems(info, decode)
    return video_problems(info['filename'], decode)


def _ann_files(dataset_cfg: dict) -> List[str]:
    """The annotation files a dataset config (wrappers included) names."""
    files = []
    if dataset_cfg.get('ann_file'):
        ann_file, root = dataset_cfg['ann_file'], dataset_cfg.get('data_root') or ''
        files.append(ann_file if osp.isabs(ann_file) or '://' in ann_file
                     else osp.join(root, ann_file))
    for inner in [dataset_cfg.get('dataset')] + list(dataset_cfg.get('datasets') or []):
        if isinstance(inner, dict):
            files += _ann_files(inner)
    return files


def check_split(dataset_cfg: dict, split: str, num_classes: Optional[int],
                decode: bool = False, progress: Optional[Callable] = None,
                seen: Optional[Dict[tuple, List[str]]] = None) -> SplitReport:
    """Check one split's dataset.

    Args:
        dataset_cfg (dict): ``{split}_dataloader.dataset`` of a config.
        split (str): The split's name.
        num_classes (int, optional): ``model.cls_head.num_classes``; None
            skips the label checks.
        decode (bool): Decode every frame. Defaults to False.
        progress (callable, optional): Wraps an iterable and its length, as
            ``tqdm(iterable, total=..., desc=...)`` does.
        seen (dict, optional): File results of earlier splits, filled here,
            so that a file listed in two splits is read once.

    Returns:
        SplitReport: The samples, labels and problems of the split.
    """
    report = SplitReport(split)
    missing = [f for f in _ann_files(dataset_cfg) if '://' not in f and not osp.isfile(f)]
    if missing:
        report.problems += [Problem('the annotation file does not exist', f, kind='ann_file')
                            for f in missing]
        return report
    dataset = DATASETS.build(dataset_cfg)
    seen = {} if seen is None else seen
    for key, leaf in leaf_datasets(dataset, f'{split}_dataloader.dataset'):
        infos = sample_infos(leaf)
        if progress is not None:
            infos = progress(infos, total=len(leaf),
                             desc=f'{split}: {osp.basename(leaf.ann_file)}')
        for line, info in infos:
            report.num_samples += 1
            label = info.get('label')
            report.classes.update(label if isinstance(label, list) else [label])
            path = sample_path(info)
            cache_key = (path, info.get('total_frames'), decode)
            if cache_key not in seen:
                seen[cache_key] = _file_problems(info, decode)
            if seen[cache_key]:
                report.problems.append(Problem('; '.join(seen[cache_key]), leaf.ann_file,
                                               line, path, kind='file'))
        if num_classes is not None:
            report.problems += label_problems(leaf, num_classes)
            report.problems += flip_map_problems(leaf, num_classes, key)
    report.problems.sort(key=lambda p: (p.ann_file, p.line or 0))
    return report


def check_datasets(cfg, splits: Sequence[str] = ('train', 'val', 'test'), decode: bool = False,
                   progress: Optional[Callable] = None) -> List[SplitReport]:
    """Check the datasets of a config's data loaders.

    Args:
        cfg (Config): A loaded config; the plugin and its ``default_scope``
            are imported and set here.
        splits (Sequence[str]): Which ``{split}_dataloader`` to check; a split
            the config has no data loader for is left out.
            Defaults to ``('train', 'val', 'test')``.
        decode (bool): Decode every frame. Defaults to False.
        progress (callable, optional): A progress-bar wrapper such as ``tqdm``.

    Returns:
        list[SplitReport]: One per split checked.
    """
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    num_classes = ((cfg.get('model') or {}).get('cls_head') or {}).get('num_classes')
    seen: Dict[tuple, List[str]] = {}
    return [check_split(cfg[f'{split}_dataloader'].dataset, split, num_classes, decode,
                        progress, seen)
            for split in splits if cfg.get(f'{split}_dataloader')]
