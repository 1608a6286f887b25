"""Backbones registered in ``mmaction.registry.MODELS``."""
from .resnet_tsm_ms import ResNetTSM_MS  # noqa: F401
from .timm_tsm_ms import TimmTSM_MS  # noqa: F401
