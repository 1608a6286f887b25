"""Checks before a run starts, and the one-line messages for what users meet first.

* :func:`refuse_data_root_option`: ``--cfg-options data_root=...`` cannot move
  the data (configs resolve their paths when they are loaded); say what does.
* :func:`check_annotation_files`: the annotation lists a run will read exist.
* :func:`download_error_message`: pretrained weights that cannot be
  downloaded (no internet), with where the file goes offline.
"""
import os.path as osp
from typing import Iterable, Optional

from mmengine.config import Config

from .cli import EntryError
from .weights import offline_weights_path

__all__ = ['refuse_data_root_option', 'check_annotation_files', 'download_error_message']

DATA_ROOT_HINT = ('launch from the folder that holds data/, or set the environment variable '
                  'MS_DATA_ROOT to the folder that holds the datasets (README, "Train on your '
                  'own data")')
# The loaders each action reads.
ACTION_LOADERS = dict(train=('train_dataloader', 'val_dataloader'), test=('test_dataloader', ))


def refuse_data_root_option(cfg_options: Optional[dict]) -> None:
    """Refuse ``data_root`` / ``datasets_root`` in ``--cfg-options``.

    Raises:
        EntryError: When one is given.
    """
    for key in ('data_root', 'datasets_root', 'data_root_val'):
        if cfg_options and key in cfg_options:
            raise EntryError(
                f'--cfg-options {key}=... does not move the data: the config resolved its '
                f'paths when it was loaded. Set MS_DATA_ROOT={cfg_options[key]} in the '
                'environment instead (the folder that holds sthv1/, sthv2/, kinetics400/, '
                'hmdb51/), or override each loader\'s dataset.ann_file and dataset.data_prefix.')


def _annotation_files(cfg: Config, loaders: Iterable[str]):
    for loader in loaders:
        dataset = (cfg.get(loader) or {}).get('dataset') or {}
        ann_file = dataset.get('ann_file')
        if not ann_file or '://' in ann_file:
            continue
        if dataset.get('data_root') and not osp.isabs(ann_file):
            ann_file = osp.join(dataset['data_root'], ann_file)
        yield loader, ann_file


def check_annotation_files(cfg: Config, action: str) -> None:
    """Stop in one line when an annotation list that ``action`` reads is missing.

    Args:
        cfg (Config): The merged config.
        action (str): ``'train'`` (the train and, with validation, val
            loaders) or ``'test'``.

    Raises:
        EntryError: Naming the file, the loader and what to do.
    """
    loaders = ACTION_LOADERS[action]
    if action == 'train' and not cfg.get('val_cfg'):
        loaders = loaders[:1]
    for loader, ann_file in _annotation_files(cfg, loaders):
        if not osp.isfile(ann_file):
            raise EntryError(f'annotation file {ann_file} ({loader}) does not exist; '
                             f'{DATA_ROOT_HINT}.')


def download_error_message(cfg: Config, err: Exception) -> str:
    """One line for weights that could not be downloaded: which, why, and where they go."""
    spec = ((cfg.get('model') or {}).get('backbone') or {}).get('pretrained')
    reason = getattr(err, 'reason', None) or err
    if not isinstance(spec, str) or offline_weights_path(spec) is None:
        return (f'error: a download failed ({reason}); this machine may have no internet '
                'access. Give the config local files for its weights.')
    return (f'error: cannot download the pretrained weights {spec} ({reason}). Offline, copy '
            f'the file to {offline_weights_path(spec)} (set TORCH_HOME to choose another '
            'cache folder), or set model.backbone.pretrained to a local file, e.g. '
            '--cfg-options model.backbone.pretrained=/path/to/weights.pth.')
