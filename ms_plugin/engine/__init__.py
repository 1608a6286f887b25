"""Runner extensions: hooks registered in ``mmaction.registry.HOOKS``."""
from .hooks import RNGStateHook, UnreadableVideoHook

__all__ = ['RNGStateHook', 'UnreadableVideoHook']
