"""Hooks that let training survive faults (see docs/fault_tolerance.md)."""
from .rng_state_hook import RNGStateHook
from .unreadable_video_hook import UnreadableVideoHook

__all__ = ['RNGStateHook', 'UnreadableVideoHook']
