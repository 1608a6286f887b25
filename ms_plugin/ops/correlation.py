"""Local correlation between two feature maps, in pure PyTorch.

The correlation is computed with matrix multiplications instead of a loop over
the (2d+1)^2 displacements: either one ``[HW, C] x [C, HW]`` product per pair
followed by a gather of the (2d+1)^2 diagonals that lie within reach
(``method='global'``, fastest for the small maps MotionSqueeze sees, memory
quadratic in H*W), or one product per vertical displacement between a row of
``f1`` and the padded row of ``f2`` it can reach (``method='banded'``, memory
linear in H*W). ``method='auto'`` picks 'global' unless it multiplies over twice as many numbers.
Both accumulate in float32 (or float64) whatever the input dtype, and return
a ``[N, (2d+1)**2, H, W]`` view of a tensor laid out as ``[N, H, W, (2d+1)**2]``:
the soft-argmax that follows reduces over displacements, which is fastest when
they are innermost in memory.
"""
import functools

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


def _build_target_index(h: int, w: int, d: int, device: torch.device) -> torch.Tensor:
    """Flat target position of every (source position, displacement); H*W if outside."""
    grid = displacement_grid(d, device=device, dtype=torch.long)  # [2, P*P]
    ys = torch.arange(h, device=device).view(h, 1).expand(h, w).reshape(-1, 1)
    xs = torch.arange(w, device=device).view(1, w).expand(h, w).reshape(-1, 1)
    ty = ys + grid[1].view(1, -1)  # [H*W, P*P]
    tx = xs + grid[0].view(1, -1)
    inside = (ty >= 0) & (ty < h) & (tx >= 0) & (tx < w)
    return torch.where(inside, ty * w + tx, torch.full_like(ty, h * w))


_cached_target_index = functools.lru_cache(maxsize=64)(_build_target_index)


def _target_index(h: int, w: int, d: int, device: torch.device) -> torch.Tensor:
    # Eager calls reuse the index (a dozen small kernels saved per call); traced
    # calls build it in the graph, where it is constant-folded anyway.
    if torch.compiler.is_compiling():
        return _build_target_index(h, w, d, device)
    return _cached_target_index(h, w, d, device)


def _global_correlation(f1: torch.Tensor, f2: torch.Tensor, d: int) -> torch.Tensor:
    n, c, h, w = f1.shape
    p = 2 * d + 1
    # [N, C, H, W] -> [N, C, H*W]
    src = f1.flatten(2)
    tgt = f2.flatten(2)
    # A zero target column at index H*W: out-of-map displacements read it.
    tgt = F.pad(tgt, (0, 1))  # [N, C, H*W + 1]
    # [N, H*W (source), C] x [N, C, H*W + 1 (target)] -> [N, H*W, H*W + 1]
    full = torch.bmm(src.transpose(1, 2), tgt)
    index = _target_index(h, w, d, f1.device)  # [H*W, P*P]
    corr = full.gather(2, index.unsqueeze(0).expand(n, -1, -1))  # [N, H*W, P*P]
    # [N, H*W, P*P] -> [N, H, W, P*P] -> (view) [N, P*P, H, W], displacements innermost in memory
    return corr.view(n, h, w, p * p).permute(0, 3, 1, 2)


def _banded_correlation(f1: torch.Tensor, f2: torch.Tensor, d: int) -> torch.Tensor:
    n, c, h, w = f1.shape
    p = 2 * d + 1
    wp = w + 2 * d
    padded = F.pad(f2, (d, d, d, d))  # [N, C, H+2d, W+2d]
    rows_src = f1.permute(0, 2, 3, 1)  # [N, C, H, W] -> [N, H, W, C]
    # Column x + dx + d of a padded row holds the target of displacement dx.
    cols = (torch.arange(w, device=f1.device).view(w, 1)
            + torch.arange(p, device=f1.device).view(1, p))  # [W, P]
    cols = cols.view(1, 1, w, p).expand(n, h, w, p)
    bands = []
    for i in range(p):  # dy = i - d
        rows_tgt = padded[:, :, i:i + h, :].permute(0, 2, 1, 3)  # [N, H, C, W+2d]
        prod = torch.matmul(rows_src, rows_tgt)  # [N, H, W, W+2d]
        bands.append(prod.gather(3, cols))  # [N, H, W, P (dx)]
    corr = torch.stack(bands, dim=3)  # [N, H, W, P (dy), P (dx)]
    # [N, H, W, P, P] -> [N, H, W, P*P] -> (view) [N, P*P, H, W]
    return corr.reshape(n, h, w, p * p).permute(0, 3, 1, 2)


def local_correlation(f1: torch.Tensor, f2: torch.Tensor, max_displacement: int = 7,
                      method: str = 'auto') -> torch.Tensor:
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
        method (str): ``'global'``, ``'banded'`` or ``'auto'``. Same result;
            see the module docstring. Defaults to ``'auto'``.

    Returns:
        Tensor: ``[N, (2d+1)**2, H, W]`` in the dtype of ``f1``.
    """
    _check_pair(f1, f2, max_displacement)
    if method not in ('auto', 'global', 'banded'):
        raise ValueError(f"method must be 'auto', 'global' or 'banded', got {method!r}.")
    _, _, h, w = f1.shape
    d = max_displacement
    if method == 'auto':
        # Products per channel: H*W*H*W (global) vs H*W*(2d+1)*(W+2d) (banded); the
        # global one runs as one large matmul, worth up to twice the work (e.g. 28x28, d=7).
        method = 'global' if h * w <= 2 * (2 * d + 1) * (w + 2 * d) else 'banded'
    acc = _accumulation_dtype(f1.dtype)
    with torch.autocast(device_type=f1.device.type, enabled=False):
        a, b = f1.to(acc), f2.to(acc)
        if method == 'global':
            corr = _global_correlation(a, b, d)
        else:
            corr = _banded_correlation(a, b, d)
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
