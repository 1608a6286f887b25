"""Constant tables of the MS ops, built once per key and kept in small LRU caches.

Every table is a function of its arguments only (sizes, displacement,
Gaussian parameters, dtype, device), so each builder is wrapped in
``functools.lru_cache``: the first call builds the table, later calls with
the same key return the same tensor. The tensors are shared: callers must
not modify them. They are built outside inference mode (so that a table made
under ``torch.inference_mode`` can serve a later training step) and never
require grad. While ``torch.compile`` traces, the builder itself is called
(the graph holds the table, and the compiler folds it): Dynamo on torch >=
2.2 ignores ``lru_cache`` wrappers in the same way, torch 2.1's cannot trace
them at all. An exporter records the tables as constants. ``clear_tables()``
empties every cache.
"""
import functools
from typing import Callable, Tuple

import torch

__all__ = ['window', 'window_mask', 'allpairs_index', 'unit_grid', 'gaussian_table',
           'clear_tables', 'recording_a_graph']

CACHE_SIZE = 32  # keys per table: (map size, d, dtype, device) combinations in use
# torch >= 2.3 has torch.compiler.is_compiling; torch 2.1 only the Dynamo one.
_is_compiling = getattr(getattr(torch, 'compiler', None), 'is_compiling', None) or (
    torch._dynamo.is_compiling)


def recording_a_graph() -> bool:
    """Whether a TorchScript trace or ``torch.compile`` is recording the operators run."""
    return torch.jit.is_tracing() or _is_compiling()


def _cached(builder: Callable) -> Callable:
    """``functools.lru_cache(CACHE_SIZE)(builder)``, called through only outside Dynamo."""
    cache = functools.lru_cache(maxsize=CACHE_SIZE)(builder)

    @functools.wraps(builder)
    def table(*key):
        if _is_compiling():
            return builder(*key)
        with torch.inference_mode(False):  # a table can outlive an inference_mode block
            return cache(*key)
    table.cache_info, table.cache_clear = cache.cache_info, cache.cache_clear
    return table


@_cached
def window(h: int, w: int, d: int,
           device: torch.device) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Target row and column of every (position, displacement), and whether it is inside.

    Returns:
        tuple[Tensor, Tensor, Tensor]: ``y + dy`` ``[H, 1, 2d+1, 1]``,
        ``x + dx`` ``[1, W, 1, 2d+1]`` and the boolean mask
        ``[H, W, 2d+1, 2d+1]`` of the displacements that stay inside the map.
    """
    offsets = torch.arange(-d, d + 1, device=device)
    ys = torch.arange(h, device=device).view(h, 1, 1, 1) + offsets.view(1, 1, -1, 1)
    xs = torch.arange(w, device=device).view(1, w, 1, 1) + offsets.view(1, 1, 1, -1)
    inside = ((ys >= 0) & (ys < h)) & ((xs >= 0) & (xs < w))  # [H, W, 2d+1, 2d+1]
    return ys, xs, inside


@_cached
def window_mask(h: int, w: int, d: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """:func:`window`'s mask as 1s and 0s of ``dtype``: ``[H, W, 2d+1, 2d+1]``.

    Multiplying by it is several times faster on the CPU than ``torch.where``
    with the boolean mask (whose broadcast takes a slow path).
    """
    return window(h, w, d, device)[2].to(dtype)


@_cached
def allpairs_index(h: int, w: int, d: int, device: torch.device) -> torch.Tensor:
    """Flat index into ``[H*W (source), H*W (target)]`` of every (source, displacement).

    Targets outside the map are clamped to its border (their products are
    masked out afterwards).

    Returns:
        Tensor: ``[H*W*(2d+1)**2]`` int64, source-major, displacements innermost.
    """
    ys, xs, _ = window(h, w, d, device)
    target = ys.clamp(0, h - 1) * w + xs.clamp(0, w - 1)  # [H, W, 2d+1, 2d+1]
    source = torch.arange(h * w, device=device).view(h, w, 1, 1)
    return (source * (h * w) + target).reshape(-1)  # [H*W*K]


@_cached
def unit_grid(d: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(dx, dy) of every correlation channel in units of ``d``: ``[2, (2d+1)**2]``, in [-1, 1].

    Row 0 is dx, row 1 is dy; channel ``k = (dy + d) * (2d + 1) + (dx + d)``.
    """
    offsets = torch.arange(-d, d + 1, device=device, dtype=dtype)
    dy, dx = torch.meshgrid(offsets, offsets, indexing='ij')
    return torch.stack([dx.reshape(-1), dy.reshape(-1)]) / d


@_cached
def descending_rank(k: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``k, k - 1, ..., 1``: ``[k]``, larger for earlier channels (ties go to the first)."""
    return torch.arange(k, 0, -1, device=device, dtype=dtype)


@_cached
def gaussian_table(d: int, sigma: float, temperature: float, dtype: torch.dtype,
                   device: torch.device) -> torch.Tensor:
    """``temperature * exp(-|k - k*|^2 / (2 sigma^2))`` for every centre k* (row) and k.

    Returns:
        Tensor: ``[(2d+1)**2, (2d+1)**2]``. The kernel is separable, so the
        table is the outer product of the 1-D one with itself (rows and
        columns ordered as the correlation channels, dy outer).
    """
    p = 2 * d + 1
    offsets = torch.arange(p, device=device, dtype=dtype)
    gauss = torch.exp(-(offsets.view(-1, 1) - offsets.view(1, -1)) ** 2 / (2 * sigma ** 2))
    # [dy*, dy] x [dx*, dx] -> [dy*, dx*, dy, dx] -> [K (centre), K]
    table = (gauss.view(p, 1, p, 1) * gauss.view(1, p, 1, p)).reshape(p * p, p * p)
    return table * temperature


def clear_tables() -> None:
    """Empty every table cache (e.g. to free device memory)."""
    for builder in (window, window_mask, allpairs_index, unit_grid, descending_rank,
                    gaussian_table):
        builder.cache_clear()
