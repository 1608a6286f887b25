"""Transforms registered in ``mmaction.registry.TRANSFORMS``."""
from .unreadable_video import UnreadableVideoError, UnreadableVideoGuard

__all__ = ['UnreadableVideoError', 'UnreadableVideoGuard']
