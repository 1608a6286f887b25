"""The one walker over a config's datasets, through MMEngine's dataset wrappers.

``RepeatDataset`` and ``ClassBalancedDataset`` hold one dataset (``dataset``),
``ConcatDataset`` several (``datasets``). The same walk serves config dicts
(before anything is built) and built datasets.
"""
from __future__ import annotations

import os.path as osp
from typing import Any, Iterator, List, Sequence, Tuple

__all__ = ['LOADERS', 'walk_datasets', 'leaf_datasets', 'annotation_files']

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _inner(dataset: Any, name: str) -> Any:
    return dataset.get(name) if isinstance(dataset, dict) else getattr(dataset, name, None)


def walk_datasets(dataset: Any, key: str = 'dataset') -> Iterator[Tuple[str, Any]]:
    """``dataset`` (a config dict or a built dataset, of config key ``key``) and every
    dataset inside its wrappers, wrappers first, with their keys (``KEY.dataset``,
    ``KEY.datasets.1``, ...)."""
    yield key, dataset
    inner = _inner(dataset, 'dataset')
    if inner is not None:
        yield from walk_datasets(inner, f'{key}.dataset')
    for index, inner in enumerate(_inner(dataset, 'datasets') or ()):
        yield from walk_datasets(inner, f'{key}.datasets.{index}')


def leaf_datasets(dataset: Any, key: str = 'dataset') -> List[Tuple[str, Any]]:
    """The datasets of :func:`walk_datasets` that wrap none (those that read files)."""
    return [(k, d) for k, d in walk_datasets(dataset, key)
            if _inner(d, 'dataset') is None and not _inner(d, 'datasets')]


def annotation_files(cfg: Any, loaders: Sequence[str] = LOADERS) -> List[Tuple[str, str]]:
    """``(dataset config key, path)`` of each local annotation file that the datasets of
    a config's ``loaders`` read (a loader it lacks is left out); the path is joined to
    the dataset's ``data_root`` as MMEngine joins it."""
    files = []
    for loader in loaders:
        dataset = (cfg.get(loader) or {}).get('dataset')
        for key, leaf in leaf_datasets(dataset or {}, f'{loader}.dataset'):
            ann_file = leaf.get('ann_file')
            if not ann_file or '://' in ann_file:
                continue
            if leaf.get('data_root') and not osp.isabs(ann_file):
                ann_file = osp.join(leaf['data_root'], ann_file)
            files.append((key, ann_file))
    return files
