"""Reuse of small constant tensors (masks, tables) between eager calls."""
import functools
from typing import Callable

import torch


def cached_constant(build: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """Decorate a builder of a constant tensor so eager calls reuse its result.

    The arguments must be hashable (sizes, dtypes, devices). The returned
    tensor is shared: it must not be modified in place. Calls traced by
    ``torch.compile`` build it in the graph, where it is constant-folded.
    """
    @functools.lru_cache(maxsize=32)
    def cached(*args):
        # Built as a normal tensor even under inference_mode, so that a later
        # training step may save it for backward.
        with torch.inference_mode(False):
            return build(*args)

    @functools.wraps(build)
    def get(*args):
        if torch.compiler.is_compiling():
            return build(*args)
        return cached(*args)

    return get
