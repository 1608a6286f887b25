"""Build a config's recognizer for deployment, with a checkpoint or without."""
import warnings
from typing import Optional, Tuple

import torch.nn as nn
from mmengine.config import Config


__all__ = ['RandomWeightsWarning', 'build_recognizer']

_CHECKPOINT_HINT = ('Expected a checkpoint written by tools/train.py (MMEngine) or a bare '
                    'state_dict of this config\'s model.')


class RandomWeightsWarning(UserWarning):
    """A model was built without a checkpoint: its outputs mean nothing."""


def build_recognizer(config: str,
                     checkpoint: Optional[str] = None,
                     cfg_options: Optional[dict] = None) -> Tuple[nn.Module, Config]:
    """Build ``config``'s model in eval mode on the CPU, with ``checkpoint``'s weights.

    Without a checkpoint the weights are the modules' constructor defaults
    (``init_weights`` is not run, so nothing is downloaded or read from
    ``pretrained``) and a :class:`RandomWeightsWarning` says so.

    Args:
        config (str): The config file.
        checkpoint (str, optional): A checkpoint of this config's model.
            Defaults to None.
        cfg_options (dict, optional): Overrides merged into the config (as
            ``--cfg-options``). Defaults to None.

    Returns:
        tuple: ``(model, cfg)``.

    Raises:
        ValueError: If the checkpoint does not fit the model (the message
            lists the missing and unexpected keys).
        SystemExit: If the checkpoint cannot be read.
    """
    # ms_plugin (this package's parent) is imported already: compat fixes, registration.
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    from ..utils.checkpoint import load_checkpoint_dict, load_weights

    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    model = MODELS.build(cfg.model)
    if checkpoint:
        load_weights(model, load_checkpoint_dict(checkpoint, _CHECKPOINT_HINT), checkpoint)
    else:
        warnings.warn(f'No checkpoint given: the weights of {config}\'s model are random, '
                      'so its scores mean nothing.', RandomWeightsWarning)
    return model.cpu().eval(), cfg
