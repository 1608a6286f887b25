"""Local correlation between two feature maps, in pure PyTorch.

The correlation is computed with matrix multiplications instead of a loop over
the (2d+1)^2 displacements. The source map is cut into blocks of
``block_rows`` rows; each block is multiplied, as one ``[rows*W, C] x [C,
(rows+2d)*W]`` product per pair, with the band of target rows it can reach
(zero rows pad the top and bottom), and the (2d+1)^2 products that are within
reach are gathered out of it; displacements past the left or right edge are
then zeroed. Small blocks multiply fewer numbers that are not needed (about
``(rows+2d)*W`` per position against the ``(2d+1)^2`` needed); one block of
every row (``block_rows=None``) is a single large product per pair.

It accumulates in float32 (or float64) whatever the input dtype, and returns
a ``[N, (2d+1)**2, H, W]`` view of a tensor laid out as ``[N, H, W, (2d+1)**2]``:
the soft-argmax that follows reduces over displacements, which is fastest when
they are innermost in memory.
"""
import functools
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

__all__ = ['l2_normalize', 'local_correlation', 'naive_local_correlation',
           'displacement_grid']


def l2_normalize(x: torch.Tensor, dim: int = 1, eps: float = 1e-6) -> torch.Tensor:
    """``x / sqrt(sum(x ** 2, dim) + eps)``, as the reference code normalises features."""
    return x * torch.rsqrt(x.pow(2).sum(dim=dim, keepdim=True) + eps)


def displacement_grid(max_displacement: int, device=None,
                      dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(dx, dy) of every correlation channel, in feature-grid cells.

    Returns:
        Tensor: ``[2, (2d+1)**2]``; row 0 is dx, row 1 is dy, and channel
        ``k = (dy + d) * (2d + 1) + (dx + d)`` (dy is the outer index).
    """
    d = max_displacement
    offsets = torch.arange(-d, d + 1, device=device, dtype=dtype)
    dy, dx = torch.meshgrid(offsets, offsets, indexing='ij')
    return torch.stack([dx.reshape(-1), dy.reshape(-1)])


def _check_pair(f1: torch.Tensor, f2: torch.Tensor, max_displacement: int) -> None:
    if f1.dim() != 4 or f1.shape != f2.shape:
        raise ValueError('local_correlation expects two feature maps of the same shape '
                         f'[N, C, H, W]; got {tuple(f1.shape)} and {tuple(f2.shape)}.')
    if not isinstance(max_displacement, int) or max_displacement < 0:
        raise ValueError('max_displacement must be a non-negative int, '
                         f'got {max_displacement!r}.')


def _accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    # float16/bfloat16 products are summed over C channels: keep them in float32.
    return torch.promote_types(dtype, torch.float32)


def _build_block_index(rows: int, w: int, d: int,
                       device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    """Where each (source position, displacement) of a block lies in its target band.

    Returns:
        tuple[Tensor, Tensor]: the flat index into the band ``[rows*W, K]``
        (columns clamped into the map), and the mask ``[W, K]`` of the
        displacements that stay inside the map horizontally.
    """
    grid = displacement_grid(d, device=device, dtype=torch.long)  # [2, K]
    ys = torch.arange(rows, device=device).view(rows, 1).expand(rows, w).reshape(-1, 1)
    xs = torch.arange(w, device=device).view(1, w).expand(rows, w).reshape(-1, 1)
    band_y = ys + d + grid[1].view(1, -1)  # [rows*W, K]; the band starts d rows higher
    tx = xs + grid[0].view(1, -1)
    index = band_y * w + tx.clamp(0, w - 1)
    inside = (tx[:w] >= 0) & (tx[:w] < w)  # [W, K]: depends on x and dx only
    return index, inside


_cached_block_index = functools.lru_cache(maxsize=64)(_build_block_index)


def _block_index(rows: int, w: int, d: int,
                 device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
    # Eager calls reuse the index (a dozen small kernels saved per call); traced
    # calls build it in the graph, where it is constant-folded anyway.
    if torch.compiler.is_compiling():
        return _build_block_index(rows, w, d, device)
    return _cached_block_index(rows, w, d, device)


def _row_block_correlation(f1: torch.Tensor, f2: torch.Tensor, d: int,
                           rows: int) -> torch.Tensor:
    n, c, h, w = f1.shape
    k = (2 * d + 1) ** 2
    blocks = -(-h // rows)
    pad = blocks * rows - h  # rows added at the bottom so the blocks tile the map
    # [N, C, H, W] -> [N, C, H+pad, W] -> [N, H+pad rows * W, C]
    src = F.pad(f1, (0, 0, 0, pad)).flatten(2).transpose(1, 2)
    # [N, C, H, W] -> [N, C, d + H+pad + d, W] -> [N, C, (H+pad+2d) * W]
    tgt = F.pad(f2, (0, 0, d, d + pad)).flatten(2)
    index, inside = _block_index(rows, w, d, f1.device)
    index = index.unsqueeze(0).expand(n, -1, -1)  # [N, rows*W, K]
    out = []
    for i in range(blocks):
        band = tgt[:, :, i * rows * w:(i * rows + rows + 2 * d) * w]  # [N, C, (rows+2d)*W]
        prod = torch.bmm(src[:, i * rows * w:(i + 1) * rows * w], band)  # [N, rows*W, band]
        out.append(prod.gather(2, index))  # [N, rows*W, K]
    corr = torch.cat(out, dim=1)[:, :h * w].view(n, h, w, k)  # [N, H*W, K] -> [N, H, W, K]
    corr = corr * inside.to(corr.dtype)  # zero past the left and right edges
    return corr.permute(0, 3, 1, 2)  # (view) [N, K, H, W]


def local_correlation(f1: torch.Tensor, f2: torch.Tensor, max_displacement: int = 7,
                      block_rows: Optional[int] = 2) -> torch.Tensor:
    """Channel-wise dot products of ``f1`` with ``f2`` at every nearby offset.

    ``out[n, k, y, x] = sum_c f1[n, c, y, x] * f2[n, c, y + dy, x + dx]`` with
    ``k = (dy + d) * (2d + 1) + (dx + d)`` and ``|dx|, |dy| <= d``; zero where
    ``(y + dy, x + dx)`` falls outside the map (zero padding). No normalisation
    is applied: L2-normalise the inputs first for cosine similarities.

    Args:
        f1 (Tensor): Source features ``[N, C, H, W]``.
        f2 (Tensor): Target features ``[N, C, H, W]``.
        max_displacement (int): ``d``, the largest offset in grid cells.
            Defaults to 7 (a 15x15 patch, as the reference).
        block_rows (int, optional): Source rows per matrix product (see the
            module docstring); the result does not depend on it. None for all
            rows at once. Defaults to 2, the fastest measured on CPU for
            28x28 and 56x56 maps.

    Returns:
        Tensor: ``[N, (2d+1)**2, H, W]`` in the dtype of ``f1``.
    """
    _check_pair(f1, f2, max_displacement)
    h = f1.shape[2]
    if block_rows is None:
        block_rows = h
    if not isinstance(block_rows, int) or block_rows < 1:
        raise ValueError(f'block_rows must be a positive int or None, got {block_rows!r}.')
    acc = _accumulation_dtype(f1.dtype)
    with torch.autocast(device_type=f1.device.type, enabled=False):
        corr = _row_block_correlation(f1.to(acc), f2.to(acc), max_displacement,
                                      min(block_rows, h))
    return corr.to(f1.dtype)


def naive_local_correlation(f1: torch.Tensor, f2: torch.Tensor,
                            max_displacement: int = 7) -> torch.Tensor:
    """The same as :func:`local_correlation`, one shifted product per offset.

    A readable baseline for tests and benchmarks; slow.
    """
    _check_pair(f1, f2, max_displacement)
    d = max_displacement
    _, _, h, w = f1.shape
    padded = F.pad(f2, (d, d, d, d))
    out = []
    for dy in range(-d, d + 1):
        for dx in range(-d, d + 1):
            shifted = padded[:, :, d + dy:d + dy + h, d + dx:d + dx + w]
            out.append((f1 * shifted).sum(dim=1))
    return torch.stack(out, dim=1)
