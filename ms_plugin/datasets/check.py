"""Checks of a dataset's annotations against the model: labels and flip maps.

A label at or beyond the classifier's ``num_classes`` ends training with
``IndexError: Target N is out of bounds`` (on a GPU, a device-side assert) at
whichever iteration first draws it; so does a ``Flip`` step whose
``flip_label_map`` sends a label there. These checks read only the annotation
records (``data_list``; nothing is decoded), so they cost a fraction of a
second on Something-Something, and they name the annotation file and line.

:class:`~ms_plugin.engine.LabelCheckHook` runs them when a loop starts;
``tools/data/check_dataset.py`` runs them with the file checks of
:mod:`ms_plugin.datasets.check_files`.
"""
from __future__ import annotations

import json
import os.path as osp
from dataclasses import dataclass, field
from typing import Iterator, List, Optional, Sequence, Tuple

from mmengine.dataset import BaseDataset
from mmengine.model import is_model_wrapper

from ..utils.errors import InputError
from .walk import leaf_datasets

__all__ = ['Problem', 'sample_infos', 'model_num_classes', 'label_problems',
           'flip_map_problems', 'check_labels']

NUM_CLASSES_KEY = 'model.cls_head.num_classes'


@dataclass
class Problem:
    """One problem of a dataset: what, of which file, and every place it occurs.

    Args:
        kind (str): To group problems: ``'missing'``, ``'empty'``,
            ``'unreadable'``, ``'damaged'``, ``'frames'``, ``'label'``,
            ``'flip'`` or ``'ann_file'``.
        message (str): What is wrong, e.g. ``'label 7: not within num_classes 5'``.
        path (str): The video or frame folder; the annotation file, or the
            config key of a pipeline step, for a problem of those.
        places (list[tuple]): ``(split, annotation file, 1-based line)`` of
            each list line it occurs on; the line is None for a whole file.
        label (int, optional): The label in question. Defaults to None.
    """

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
    """The annotation records of a dataset, with their 1-based line numbers.

    MMAction2's list files hold one sample a line, so record ``i`` is line
    ``i + 1``. The records are read as loaded (a multi-label sample keeps its
    list of labels, not the one-hot vector ``get_data_info`` makes).
    """
    dataset.full_init()
    for index in range(len(dataset)):
        yield index + 1, BaseDataset.get_data_info(dataset, index)


def model_num_classes(model) -> Optional[int]:
    """``cls_head.num_classes`` of a model (unwrapped), or None when it has none."""
    if is_model_wrapper(model):
        model = model.module
    num_classes = getattr(getattr(model, 'cls_head', None), 'num_classes', None)
    return num_classes if isinstance(num_classes, int) else None


def _labels(info: dict) -> Sequence[int]:
    label = info.get('label')
    if label is None:
        return ()
    if isinstance(label, (list, tuple)):  # multi-label lists
        return [int(v) for v in label]
    if hasattr(label, 'tolist'):  # a tensor or an array
        value = label.tolist()
        return [int(v) for v in value] if isinstance(value, list) else [int(value)]
    return [int(label)]


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


def flip_steps(dataset: BaseDataset) -> List[Tuple[int, object]]:
    """The ``Flip`` steps of a dataset's pipeline that have a flip label map, by index."""
    steps = getattr(getattr(dataset, 'pipeline', None), 'transforms', None) or ()
    return [(index, step) for index, step in enumerate(steps)
            if type(step).__name__ == 'Flip' and getattr(step, 'flip_label_map', None)]


def flip_map_problems(dataset: BaseDataset, num_classes: int,
                      key: str = 'dataset') -> List[Problem]:
    """Flip label maps that send a label within ``num_classes`` beyond it.

    An entry whose key is not a valid label never applies (the labels are
    checked too), so a map of a larger label set that a subset shares, such
    as the synthetic generator's, passes as long as it keeps the subset's
    labels within it.

    Args:
        dataset (BaseDataset): The dataset whose pipeline is checked.
        num_classes (int): The classifier's number of classes.
        key (str): The dataset's config key, for the message. Defaults to
            ``'dataset'``.

    Returns:
        list[Problem]: One per Flip step with such entries; ``path`` is the
        step's config key (``...pipeline.N.flip_label_map``).
    """
    problems = []
    for index, step in flip_steps(dataset):
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
            classes = json.load(f)['classes']
    except (OSError, ValueError, KeyError, TypeError):
        return ''
    from .synthetic_motion import CLASS_SETS
    names = [name for name, chosen in CLASS_SETS.items() if len(chosen) == num_classes]
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

    Args:
        dataset: The dataset of a loop (wrappers are looked into).
        num_classes (int): The classifier's number of classes.
        key (str): The dataset's config key, e.g. ``'train_dataloader.dataset'``.

    Raises:
        InputError: One line naming the label, the annotation file and
            line, ``num_classes`` and the setting to change.
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
