"""Build a config's recognizer, with a checkpoint's weights loaded strictly.

:func:`build_recognizer` is the one way the tools build a model: MMAction2's
``init_recognizer`` builds it (no ``pretrained`` download, eval mode, on the
device), then the checkpoint is read safely (``ms_plugin.compat``'s
``weights_only`` fixes) and loaded with every key and shape checked
(:func:`ms_plugin.utils.checkpoint.state_dict_mismatch`), where
``init_recognizer`` would load what matches and only log the rest.
"""
import argparse
import copy
import warnings
from typing import Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmaction.apis import init_recognizer
from mmaction.registry import MODELS
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

from ..models.backbones.ms_mixin import MotionSqueezeMixin
from ..models.naming import type_name
from ..models.recognizers.msnet import DEFAULT_BACKBONE
from ..utils.checkpoint import load_weights, model_state_dict, read_checkpoint

__all__ = ['RandomWeightsWarning', 'build_recognizer', 'load_config', 'parse_cfg_options']


class RandomWeightsWarning(UserWarning):
    """A model was built without a checkpoint: its outputs mean nothing."""


def parse_cfg_options(options: Optional[Sequence[str]]) -> dict:
    """``['a.b=1', 'c=[2,3]']`` -> ``{'a.b': 1, 'c': [2, 3]}``, as ``--cfg-options`` does."""
    if not options:
        return {}
    namespace = argparse.Namespace()
    DictAction(option_strings=[], dest='cfg_options')(None, namespace, list(options))
    return namespace.cfg_options


def load_config(config: Union[str, Config], cfg_options: Optional[dict] = None) -> Config:
    """``config`` (a file or a Config, copied) with ``cfg_options`` merged in."""
    cfg = copy.deepcopy(config) if isinstance(config, Config) else Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def _has_motion_squeeze(model_cfg: dict) -> bool:
    """Whether the backbone ``model_cfg`` builds is a family with MotionSqueeze modules."""
    backbone = model_cfg.get('backbone') or {}
    kind = backbone.get('type')
    if kind is None and type_name(model_cfg) == 'MSNet':
        kind = DEFAULT_BACKBONE['type']
    backbone_class = MODELS.get(kind) if isinstance(kind, str) else kind
    return isinstance(backbone_class, type) and issubclass(backbone_class, MotionSqueezeMixin)


def _set_correlation_impl(cfg: Config, impl: str) -> None:
    """Build every MotionSqueeze module of ``cfg``'s backbone with ``correlation_impl=impl``."""
    if not _has_motion_squeeze(cfg.model):
        return
    backbone = cfg.model.setdefault('backbone', {})
    backbone['ms_cfg'] = dict(backbone.get('ms_cfg') or {}, correlation_impl=impl)


def _mismatch_hint(checkpoint: dict) -> str:
    """What to do about a checkpoint that does not fit the config's model."""
    hint = 'Use the config the checkpoint was trained with'
    try:
        keys = model_state_dict(checkpoint)
    except ValueError:  # no state_dict at all
        keys = {}
    if any(str(key).startswith('base_model.') for key in keys):
        hint += ('; a checkpoint of the authors\' code must first be converted with '
                 'tools/convert_official_ckpt.py')
    return hint + '.'


def build_recognizer(config: Union[str, Config],
                     checkpoint: Optional[str] = None,
                     *,
                     cfg_options: Optional[dict] = None,
                     device: str = 'cpu',
                     correlation_impl: Optional[str] = None,
                     warn_random: bool = True) -> Tuple[nn.Module, Config]:
    """Build ``config``'s model in eval mode, with ``checkpoint``'s weights.

    Without a checkpoint the weights are the modules' constructor defaults
    (``init_weights`` is not run, so nothing is downloaded or read from
    ``pretrained``) and a :class:`RandomWeightsWarning` says so.

    Args:
        config (str | Config): The config file, or a Config (not changed).
        checkpoint (str, optional): A checkpoint of this config's model
            (MMEngine's, or a bare state_dict). Defaults to None.
        cfg_options (dict, optional): Overrides merged into the config (as
            ``--cfg-options``). Defaults to None.
        device (str): Where the model goes. Defaults to ``'cpu'``.
        correlation_impl (str, optional): How every MotionSqueeze module
            computes its correlation (``ms_cfg.correlation_impl`` of the
            backbone, e.g. ``'allpairs'`` for an ONNX export); no effect on a
            model without one. Defaults to None (the config's).
        warn_random (bool): Warn when no checkpoint is given. Defaults to True.

    Returns:
        tuple: ``(model, cfg)``, ``cfg`` being the merged config.

    Raises:
        CheckpointError: If the checkpoint cannot be read.
        ValueError: If the checkpoint does not fit the model (the message
            lists the missing and unexpected keys and the shape mismatches).
    """
    cfg = load_config(config, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    if correlation_impl is not None:
        _set_correlation_impl(cfg, correlation_impl)
    weights = read_checkpoint(checkpoint) if checkpoint else None
    # init_recognizer loads checkpoints leniently: the weights are loaded below.
    model = init_recognizer(copy.deepcopy(cfg), None, device=device)
    if weights is not None:
        try:
            load_weights(model, weights, checkpoint)
        except ValueError as err:
            raise ValueError(f'{err}\n{_mismatch_hint(weights)}') from err
    elif warn_random:
        warnings.warn(f'No checkpoint given: the weights of {cfg.filename or "the config"}\'s '
                      'model are random, so its scores mean nothing.', RandomWeightsWarning)
    return model.eval(), cfg
