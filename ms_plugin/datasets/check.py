"""Labels and flip maps against the classifier's ``num_classes``, from the records only.

Such a label (or a ``Flip`` step's ``flip_label_map`` that sends one there)
ends training with ``IndexError: Target N is out of bounds`` at whichever
iteration draws it. :class:`~ms_plugin.engine.LabelCheckHook` runs these
checks when a loop starts, ``tools/data/check_dataset.py`` with its file checks.
"""
from __future__ import annotations

import json
import os.path as osp
from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Tuple

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.model import is_model_wrapper

from ..utils.errors import InputError
from .walk import leaf_datasets

__all__ = ['Problem', 'sample_infos', 'model_num_classes', 'label_problems',
           'flip_map_problems', 'check_labels']

NUM_CLASSES_KEY = 'model.cls_head.num_classes'


@dataclass
class Problem:
    """One problem: its kind (``'missing'``, ``'label'``, ...), what is wrong, of which path
    (video, frame folder, annotation file or config key), every ``(split, annotation file,
    line)`` it occurs on (line None for a whole file), and the label in question."""

    kind: str
    message: str
    path: str
    places: List[Tuple[str, str, Optional[int]]] = field(default_factory=list)
    label: Optional[int] = None

    def __str__(self) -> str:
        lines = {}  # (ann_file, line) -> splits, in the order seen
        for split, ann_file, line in self.places:
            lines.setdefault((ann_file, line), []).append(split)
        where = '; '.join(f'{"+".join(splits)}: {ann}:{line}' if line else '+'.join(splits)
                          for (ann, line), splits in lines.items())
        return f'{self.path}: {self.message}' + (f' ({where})' if where else '')


def sample_infos(dataset: BaseDataset) -> Iterator[Tuple[int, dict]]:
    """The records of a dataset as loaded (a multi-label sample keeps its list of labels),
    with their 1-based line numbers: MMAction2's lists hold one sample a line."""
    dataset.full_init()
    for index in range(len(dataset)):
        yield index + 1, BaseDataset.get_data_info(dataset, index)


def model_num_classes(model) -> Optional[int]:
    """``cls_head.num_classes`` of a model (unwrapped), or None when it has none."""
    if is_model_wrapper(model):
        model = model.module
    num_classes = getattr(getattr(model, 'cls_head', None), 'num_classes', None)
    return num_classes if isinstance(num_classes, int) else None


def _labels(info: dict) -> List[int]:
    label = info.get('label')  # an int, a multi-label list, a tensor or an array
    return [] if label is None else [int(v) for v in np.ravel(label)]


def sample_path(info: dict) -> Optional[str]:
    """The video or frame folder a record names."""
    return info.get('filename') or info.get('frame_dir')


def label_problems(dataset: BaseDataset, num_classes: int) -> List[Problem]:
    """Records whose labels lie outside ``0 .. num_classes - 1``, one problem each."""
    problems = []
    for line, info in sample_infos(dataset):
        bad = [v for v in _labels(info) if not 0 <= v < num_classes]
        if bad:
            problems.append(Problem('label', f'label {bad[0]}: not within num_classes '
                                    f'{num_classes}', sample_path(info),
                                    [('', dataset.ann_file, line)], bad[0]))
    return problems


def flip_map_problems(dataset: BaseDataset, num_classes: int,
                      key: str = 'dataset') -> List[Problem]:
    """Flip label maps that send a label within ``num_classes`` beyond it.

    An entry whose key is not a valid label never applies, so a larger label
    set's map that a subset shares passes if it keeps the subset's labels.

    Returns:
        list[Problem]: One per such Flip step of the pipeline; ``path`` is its
        config key (``{key}.pipeline.N.flip_label_map``).
    """
    problems = []
    steps = getattr(getattr(dataset, 'pipeline', None), 'transforms', None) or ()
    for index, step in enumerate(steps):
        if type(step).__name__ != 'Flip' or not getattr(step, 'flip_label_map', None):
            continue
        bad = {int(k): int(v) for k, v in step.flip_label_map.items()
               if 0 <= int(k) < num_classes and not 0 <= int(v) < num_classes}
        if bad:
            first = min(bad)
            problems.append(Problem(
                'flip', f'maps label {first} to {bad[first]}, not within num_classes '
                f'{num_classes}', f'{key}.pipeline.{index}.flip_label_map'))
    return problems


def synthetic_hint(ann_file: str, num_classes: int) -> str:
    """What to do when ``ann_file`` is the synthetic generator's and has too many classes."""
    meta_file = osp.join(osp.dirname(osp.abspath(ann_file)), 'meta.json')
    try:
        with open(meta_file) as f:
            meta = json.load(f)
        classes, sets = meta['classes'], meta.get('class_sets', {})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return ''
    names = [name for name, size in sets.items() if size == num_classes]
    if not names or len(classes) == num_classes:
        return ''
    return (f'; this is tools/data/synthetic_motion.py data with {len(classes)} classes '
            f'(its meta.json), the config has {num_classes}: write it again with '
            f'--class-set {names[0]}')


def label_error(problems: List[Problem], num_classes: int) -> str:
    """The one line :class:`InputError` says for labels out of range."""
    first, (_, ann_file, line) = problems[0], problems[0].places[0]
    more = f' ({len(problems) - 1} more line(s) too)' if len(problems) > 1 else ''
    largest = max(p.label for p in problems)
    needed = f' (at least {largest + 1})' if largest >= num_classes else ''
    return (f'label {first.label} on line {line} of {ann_file}{more} is '
            f'not within {NUM_CLASSES_KEY}={num_classes} (labels 0 to {num_classes - 1}): '
            f'set {NUM_CLASSES_KEY} to the number of classes of the data{needed}'
            f'{synthetic_hint(ann_file, num_classes)}')


def flip_error(problem: Problem, num_classes: int) -> str:
    """The one line :class:`InputError` says for a flip map beyond ``num_classes``."""
    step_key = problem.path.rsplit('.', 1)[0]
    return (f'the Flip step {step_key} {problem.message.split(",")[0]}, beyond '
            f'{NUM_CLASSES_KEY}={num_classes}: the Something-Something flip maps hold the '
            'official label indices, so for another label set remove the map with '
            f'--cfg-options {problem.path}=None (or give a map of your own labels)')


def check_labels(dataset, num_classes: int, key: str = 'dataset') -> None:
    """Raise :class:`InputError` for a label or flip map beyond ``num_classes``.

    ``dataset`` (config key ``key``) is looked into through its wrappers; the
    one-line message names the label, the file and line and what to set.
    """
    for leaf_key, leaf in leaf_datasets(dataset, key):
        if not isinstance(leaf, BaseDataset):
            continue
        problems = label_problems(leaf, num_classes)
        if problems:
            raise InputError(label_error(problems, num_classes))
        flips = flip_map_problems(leaf, num_classes, leaf_key)
        if flips:
            raise InputError(flip_error(flips[0], num_classes))
