"""Runner extensions: hooks registered in ``mmaction.registry.HOOKS``."""
from .hooks import FuseConvBNHook, RNGStateHook, UnreadableVideoHook

__all__ = ['FuseConvBNHook', 'RNGStateHook', 'UnreadableVideoHook']
