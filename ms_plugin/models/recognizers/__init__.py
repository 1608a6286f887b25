"""Recognizers registered in ``mmaction.registry.MODELS``."""
from .msnet import MSNet  # noqa: F401
