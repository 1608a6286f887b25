"""How this plugin's modules and configs name things: registry scopes, the shift wrapper.

Pure Python, no torch: configs, checkpoint converters and deployment code
read these names without building a model.
"""
from typing import Mapping, Union

__all__ = ['SHIFT_WRAPPER', 'type_name', 'without_shift_wrapper']

# MMAction2's TemporalShift wraps the first conv of a residual block as its
# child ``net``, so a shifted conv's keys hold this part
# (``layer1.0.conv1.conv.net.weight``) where a plain ResNet has none.
SHIFT_WRAPPER = '.net'


def type_name(cfg_or_type: Union[Mapping, str, type, None]) -> object:
    """The ``type`` of a config dict (or a type itself) without its registry scope.

    ``'mmaction.TSMHead'`` and ``dict(type='TSMHead')`` both give
    ``'TSMHead'``; a class (a config may give one) and None come back as they are.
    """
    kind = cfg_or_type.get('type') if isinstance(cfg_or_type, Mapping) else cfg_or_type
    return kind.split('.')[-1] if isinstance(kind, str) else kind


def without_shift_wrapper(key: str) -> str:
    """``layer1.0.conv1.conv.net.weight`` -> ``layer1.0.conv1.conv.weight``."""
    return key.replace(SHIFT_WRAPPER + '.', '.')
