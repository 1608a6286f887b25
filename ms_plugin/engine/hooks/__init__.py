"""Hooks registered in ``mmaction.registry.HOOKS``: the fault tolerance of
docs/fault_tolerance.md and the ``--fuse-conv-bn`` step of ``tools/test.py``."""
from .fuse_conv_bn_hook import FuseConvBNHook
from .label_check_hook import LabelCheckHook
from .rng_state_hook import RNGStateHook
from .unreadable_video_hook import UnreadableVideoHook

__all__ = ['FuseConvBNHook', 'LabelCheckHook', 'RNGStateHook', 'UnreadableVideoHook']
