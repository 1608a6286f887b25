"""Backbones with MotionSqueeze modules, registered in ``mmaction.registry.MODELS``.

- ``ms_mixin``: the one mechanism: a family declares its stages, the mixin
  builds, names (``ms_<stage name>``) and runs (after the stage's own
  forward, ``forward_wraps``) the MS modules;
- ``resnet_tsm_ms``, ``mobilenet_v2_tsm_ms``, ``resnet3d_ms``: MMAction2's
  TSM ResNet, TSM MobileNetV2 and 3D ResNets (R(2+1)D too) with MS modules;
- ``swin_ms``: Video Swin with MS modules on its stages' token maps;
- ``timm_tsm_ms``: any timm CNN as a TSM backbone with MS modules, with
  ``timm_shift`` adding the temporal shift to its blocks.
"""
from .mobilenet_v2_tsm_ms import MobileNetV2TSM_MS  # noqa: F401
from .resnet3d_ms import ResNet2Plus1d_MS, ResNet3d_MS, ResNet3dSlowOnly_MS  # noqa: F401
from .resnet_tsm_ms import ResNetTSM_MS  # noqa: F401
from .swin_ms import SwinTransformer3D_MS  # noqa: F401
from .timm_tsm_ms import TimmTSM_MS  # noqa: F401
