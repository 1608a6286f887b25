"""Hooks registered in ``mmaction.registry.HOOKS``.

- Keeping a run alive and reproducible through faults (docs/fault_tolerance.md):
  ``UnreadableVideoHook`` (skips and counts unreadable videos),
  ``RNGStateHook`` (random states in checkpoints), ``LabelCheckHook`` (labels
  checked against the classifier when a loop starts).
- Deployment: ``FuseConvBNHook``, the ``--fuse-conv-bn`` step of ``tools/test.py``.
"""
from .fuse_conv_bn_hook import FuseConvBNHook
from .label_check_hook import LabelCheckHook
from .rng_state_hook import RNGStateHook
from .unreadable_video_hook import UnreadableVideoHook

__all__ = ['FuseConvBNHook', 'LabelCheckHook', 'RNGStateHook', 'UnreadableVideoHook']
