"""Modules registered in ``mmaction.registry.MODELS`` (registry name = class name)."""
from .motion_squeeze import (MotionSqueeze, SeparableConvBlock,  # noqa: F401
                             capture_motion, motion_squeeze_modules)
from .fuse_conv_bn import fuse_conv_bn  # noqa: F401
from . import backbones, recognizers  # noqa: F401,E402  (registers ResNetTSM_MS and MSNet)
