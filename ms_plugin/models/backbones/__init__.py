"""Backbones registered in ``mmaction.registry.MODELS``: MMAction2's (and
timm's) backbones with MotionSqueeze modules, all through ``MotionSqueezeMixin``."""
from .mobilenet_v2_tsm_ms import MobileNetV2TSM_MS  # noqa: F401
from .resnet3d_ms import ResNet3d_MS, ResNet3dSlowOnly_MS  # noqa: F401
from .resnet_tsm_ms import ResNetTSM_MS  # noqa: F401
from .timm_tsm_ms import TimmTSM_MS  # noqa: F401
