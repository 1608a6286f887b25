"""The dataset checker behind ``tools/data/check_dataset.py``.

:func:`check_datasets` probes each distinct video or frame folder of a config's
datasets once (:mod:`.probe`, in a pool of processes), checks labels and flip
maps (:mod:`.check`) and returns each problem once with all its places;
:func:`write_out_dir` writes them as JSON lines, and each list without its bad lines.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import signal
import threading
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing import Pool
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from mmaction.registry import DATASETS
from mmengine.dataset import BaseDataset
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings

from ..utils.errors import InputError
from .check import Problem, flip_map_problems, label_problems, sample_infos, sample_path
from .probe import sample_problems
from .walk import annotation_files, leaf_datasets

__all__ = ['Report', 'check_datasets', 'default_nproc', 'problem_kind', 'clean_list_paths',
           'write_out_dir']

SPLITS = ('train', 'val', 'test')
KINDS = (('no such', 'missing'), ('the file is empty', 'empty'), ('cannot', 'unreadable'),
         ('the container declares no', 'unreadable'), ('the list says', 'frames'),
         ('it should hold', 'frames'))
KIND_ORDER = ('missing', 'empty', 'unreadable', 'damaged', 'frames', 'label', 'flip', 'ann_file')
PROBE_KEYS = ('frame_dir', 'filename', 'filename_tmpl', 'total_frames', 'start_index', 'offset',
              'modality')


@dataclass
class Report:
    """What :func:`check_datasets` found: samples and labels used per split, each problem
    once (in list order), the distinct files probed, and whether Ctrl-C cut it short."""

    samples: Dict[str, int] = field(default_factory=dict)
    classes: Dict[str, Set[int]] = field(default_factory=dict)
    problems: List[Problem] = field(default_factory=list)
    files: int = 0
    interrupted: bool = False

    def summary(self) -> str:
        """``'2 missing, 1 label'``: the problems counted by kind."""
        counts = Counter(p.kind for p in self.problems)
        return ', '.join(f'{counts[kind]} {kind}' for kind in KIND_ORDER if counts[kind])


def problem_kind(messages: Sequence[str]) -> str:
    """The kind of a probe's problem: by the start of its first message, else ``'damaged'``."""
    return next((kind for start, kind in KINDS if messages[0].startswith(start)), 'damaged')


def default_nproc() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()


def _probe(item: tuple) -> tuple:
    key, decode = item
    return key, sample_problems(dict(zip(PROBE_KEYS, key)), decode)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def check_datasets(cfg, splits: Sequence[str] = SPLITS, decode: bool = False,
                   nproc: Optional[int] = None, progress: Optional[Callable] = None) -> Report:
    """Check the datasets of a config's ``{split}_dataloader``s (those it has).

    ``nproc`` processes probe (None: all cores), decoding every frame with
    ``decode``; ``progress`` wraps an iterable as ``tqdm(it, total=..., desc=...)``
    does. Ctrl-C while probing returns what was found, with ``interrupted=True``.
    """
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    num_classes = ((cfg.get('model') or {}).get('cls_head') or {}).get('num_classes')
    report, found, places = Report(), {}, {}  # found: problem key -> Problem
    for split in (s for s in splits if cfg.get(f'{s}_dataloader')):
        report.samples[split], report.classes[split] = 0, set()
        missing = [f for _, f in annotation_files(cfg, [f'{split}_dataloader'])
                   if not osp.isfile(f)]
        for ann_file in missing:
            found.setdefault(('ann_file', ann_file), Problem(
                'ann_file', 'the annotation file does not exist', ann_file)).places.append(
                    (split, ann_file, None))
        if missing:
            continue
        dataset = DATASETS.build(cfg[f'{split}_dataloader'].dataset)
        for key, leaf in leaf_datasets(dataset, f'{split}_dataloader.dataset'):
            if not isinstance(leaf, BaseDataset):
                continue
            for line, info in sample_infos(leaf):
                report.samples[split] += 1
                label = info.get('label')
                report.classes[split].update(label if isinstance(label, list) else [label])
                for name in ('filename_tmpl', 'start_index', 'modality'):  # as get_data_info
                    if hasattr(leaf, name):
                        info.setdefault(name, getattr(leaf, name))
                probe_key = tuple(info.get(k) for k in PROBE_KEYS)
                places.setdefault(probe_key, []).append((split, leaf.ann_file, line))
            if num_classes is None:
                continue
            for problem in label_problems(leaf, num_classes):
                _, ann_file, line = problem.places[0]
                found.setdefault(('label', ann_file, line), problem).places.append(
                    (split, ann_file, line))
            for problem in flip_map_problems(leaf, num_classes, key):
                found[('flip', problem.path)] = problem
                problem.places.append((split, problem.path, None))
    for problem in found.values():  # the places of label_problems have no split
        problem.places = [place for place in problem.places if place[0]]
    report.files = len(places)
    items = [(key, decode) for key in places]
    nproc = nproc or default_nproc()
    chunksize = max(1, min(16, len(items) // (nproc * 20)))
    with Pool(min(nproc, max(1, len(items))), initializer=_ignore_sigint) as pool:
        results = pool.imap_unordered(_probe, items, chunksize)
        if progress is not None:
            results = progress(results, total=len(items), desc='videos' if decode else 'files',
                               unit='file')
        # Ctrl-C sets a flag that the loop reads after each result: an exception
        # raised by the signal could land in a destructor and be ignored there.
        stop = []
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, lambda *_: stop.append(1)) if main else None
        try:
            for key, messages in results:
                if messages:
                    info = dict(zip(PROBE_KEYS, key))
                    found[key] = Problem(problem_kind(messages), '; '.join(messages),
                                         sample_path(info), places[key])
                if stop:
                    break
        except KeyboardInterrupt:
            stop.append(1)
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)
        report.interrupted = bool(stop)  # the pool is terminated when the block ends
    report.problems = sorted(found.values(), key=lambda p: [
        (SPLITS.index(s) if s in SPLITS else len(SPLITS), a, n or 0) for s, a, n in p.places])
    return report


def clean_list_paths(ann_files: Sequence[str], out_dir: str) -> Dict[str, str]:
    """Annotation file -> its cleaned copy in ``out_dir`` (same name; lists of one name
    from several folders get their folder's name in front). Raises :class:`InputError`
    when a copy would overwrite one of the lists."""
    ann_files = list(dict.fromkeys(ann_files))
    names = Counter(osp.basename(f) for f in ann_files)
    paths = {f: osp.join(out_dir, osp.basename(f) if names[osp.basename(f)] == 1 else
                         f'{osp.basename(osp.dirname(osp.abspath(f)))}_{osp.basename(f)}')
             for f in ann_files}
    lists = {osp.realpath(f) for f in ann_files}
    for ann_file, path in paths.items():
        if osp.realpath(path) in lists:
            raise InputError(f'--out-dir {out_dir} holds the list {path}, which the cleaned '
                             f'copy of {ann_file} would overwrite: give another folder')
    return paths


def write_out_dir(report: Report, ann_files: Sequence[str], out_dir: str) -> List[str]:
    """Write ``out_dir/problems.jsonl`` and, unless the run was interrupted, a copy of each
    of ``ann_files`` without its bad lines (:func:`clean_list_paths`); return the paths."""
    paths = clean_list_paths(ann_files, out_dir)
    os.makedirs(out_dir, exist_ok=True)
    written = [osp.join(out_dir, 'problems.jsonl')]
    with open(written[0], 'w') as f:
        for p in report.problems:
            places = [dict(split=s, ann_file=a, line=n) for s, a, n in p.places]
            f.write(json.dumps(dict(kind=p.kind, path=p.path, message=p.message,
                                    places=places)) + '\n')
    if report.interrupted:
        return written
    bad = {(a, n) for p in report.problems for _, a, n in p.places if n}
    for ann_file, path in paths.items():
        if osp.isfile(ann_file):
            with open(ann_file) as fin:
                lines = [text for number, text in enumerate(fin, 1)
                         if (ann_file, number) not in bad]
            with open(path, 'w') as fout:
                fout.writelines(lines)
            written.append(path)
    return written
