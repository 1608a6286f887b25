"""Modules registered in ``mmaction.registry.MODELS`` (registry name = class name)."""
from .fused_conv_module import FusedConvModule  # noqa: F401
from .motion_squeeze import MotionSqueeze, SeparableConvBlock  # noqa: F401
from . import backbones, recognizers  # noqa: F401,E402  (registers ResNetTSM_MS and MSNet)
