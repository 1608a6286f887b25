"""Runner extensions: hooks registered in ``mmaction.registry.HOOKS``."""
from .hooks import FuseConvBNHook, LabelCheckHook, RNGStateHook, UnreadableVideoHook

__all__ = ['FuseConvBNHook', 'LabelCheckHook', 'RNGStateHook', 'UnreadableVideoHook']
