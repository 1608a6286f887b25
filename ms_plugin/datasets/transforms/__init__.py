"""Transforms registered in ``mmaction.registry.TRANSFORMS``."""
from .unreadable_video import UnreadableVideoGuard

__all__ = ['UnreadableVideoGuard']
