"""Local correlation between two feature maps, in pure PyTorch.

Two implementations of the same function, chosen by name, never by device,
grad mode or tracing (``tests/test_ops.py`` checks they agree):

- ``'strided'`` (the default, for training and eager inference): each
  source row against the flat run of target positions it can reach, in one
  batched matrix product over the stacked, zero-padded maps, read through
  strided views (no copy); see :func:`_strided_correlation`.
- ``'allpairs'`` (for export): every source position against every target
  position of its map in one matrix product (as RAFT does), then the local
  window by a gather: matrix product, gather and ``where`` only, which both
  ONNX exporters take (the TorchScript one cannot take ``unfold``). It costs
  ``(H*W)**2`` products per map instead of about ``(2d+1) * (W + d) * H``.

Neither mixes maps: a NaN or inf in one map changes no other map's output
or gradient (``tests/test_isolation.py``).
"""
import torch
import torch.nn.functional as F

__all__ = ['l2_normalize', 'local_correlation', 'naive_local_correlation',
           'accumulation_dtype', 'CORRELATION_IMPLS']


def accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 for float64 inputs, else float32: half-precision sums lose too much."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def l2_normalize(x: torch.Tensor, dim: int = 1, eps: float = 1e-6) -> torch.Tensor:
    """``x / sqrt(sum(x ** 2, dim) + eps)``, as the reference code normalises features."""
    return x * torch.rsqrt(x.pow(2).sum(dim=dim, keepdim=True) + eps)


def _check_pair(f1: torch.Tensor, f2: torch.Tensor, max_displacement: int) -> None:
    if f1.dim() != 4 or f1.shape != f2.shape:
        raise ValueError('local_correlation expects two feature maps of the same shape '
                         f'[N, C, H, W]; got {tuple(f1.shape)} and {tuple(f2.shape)}.')
    if not isinstance(max_displacement, int) or max_displacement < 0:
        raise ValueError('max_displacement must be a non-negative int, '
                         f'got {max_displacement!r}.')


def _target_runs(f: torch.Tensor, d: int) -> torch.Tensor:
    """The flat run of positions of ``f`` that each row of ``'strided'`` reaches.

    Every map gets ``d`` zero columns after each row (pitch ``W + d``) and
    ``d`` zero rows below it; the maps are stacked into one flat run with
    ``d`` zero rows (and ``d`` zeros) before the first. Row ``y`` of map
    ``m`` reaches the positions from ``(y - d, -d)`` to ``(y + d, W - 1 + d)``
    of its map.

    Returns:
        Tensor: ``[N*(H+d), C, 2d*(W+d) + W + 2d]``, overlapping windows (a view).
    """
    n, c, h, w = f.shape
    pitch, rows = w + d, h + d
    run = 2 * d * pitch + w + 2 * d
    # [N, C, H, W] -> [N, C, H+d, W+d] -> [C, N*(H+d)*(W+d)]
    flat = F.pad(f, (0, d, 0, d)).transpose(0, 1).reshape(c, n * rows * pitch)
    # d zero rows and d zeros before the first map, d zero rows after the
    # last: [C, (N*(H+d) + 2d)*pitch + d]
    flat = F.pad(flat, (d * pitch + d, d * pitch))
    # exactly N*(H+d) windows: [C, N*(H+d), run] -> [N*(H+d), C, run]
    return flat.unfold(1, run, pitch).transpose(0, 1)


def _window_view(prod: torch.Tensor, n: int, h: int, w: int, d: int) -> torch.Tensor:
    """The ``[N, H, W, 2d+1, 2d+1]`` products of a ``[N*(H+d), W, run]`` row product.

    (map m, row y, column x, dy, dx) lies at
    ``(m*(H+d) + y)*W*run + x*(run + 1) + (dy + d)*pitch + (dx + d)``: a
    strided view. An offset outside the map reads that map's zero padding.
    """
    p, pitch = 2 * d + 1, w + d
    run = prod.shape[-1]
    return prod.as_strided((n, h, w, p, p), ((h + d) * w * run, w * run, run + 1, pitch, 1))


def _source_rows(f: torch.Tensor, d: int) -> torch.Tensor:
    """``[N, C, H, W]`` -> ``[N*(H+d), W, C]``: the rows of ``'strided'``'s product.

    ``d`` zero rows per map (their products are never read) keep the row
    step of the batched product uniform.
    """
    n, c, h, w = f.shape
    # [N, C, H, W] -> [N, C, H+d, W] -> [N, H+d, W, C] -> [N*(H+d), W, C]
    return F.pad(f, (0, 0, 0, d)).permute(0, 2, 3, 1).reshape(n * (h + d), w, c)


def _strided_correlation(f1: torch.Tensor, f2: torch.Tensor, d: int) -> torch.Tensor:
    """``'strided'``: one batched product over the rows of the stacked, padded maps.

    Each source row ``[W, C]`` is multiplied with the flat run of target
    positions it reaches (:func:`_target_runs`); every (column, offset) then
    lies at a fixed stride of the product (:func:`_window_view`). What an
    offset reads outside its map is zero padding of that map, so no mask is
    needed and no value of one map reaches another map's output or gradient.
    """
    n, _, h, w = f1.shape
    prod = torch.bmm(_source_rows(f1, d), _target_runs(f2, d))  # [N*(H+d), W, run]
    corr = _window_view(prod, n, h, w, d)  # [N, H, W, 2d+1, 2d+1]
    return corr.reshape(n, h, w, -1).permute(0, 3, 1, 2)  # -> (a view) [N, K, H, W]


def _allpairs_correlation(f1: torch.Tensor, f2: torch.Tensor, d: int) -> torch.Tensor:
    """``'allpairs'``: all pairs of positions of a map, then the local window."""
    n, c, h, w = f1.shape
    p = 2 * d + 1
    src = f1.reshape(n, c, h * w).transpose(1, 2)  # [N, C, H, W] -> [N, H*W, C]
    pairs = torch.bmm(src, f2.reshape(n, c, h * w))  # [N, H*W (source), H*W (target)]
    offsets = torch.arange(-d, d + 1, device=f1.device)
    ys = torch.arange(h, device=f1.device).view(h, 1, 1, 1) + offsets.view(1, 1, p, 1)
    xs = torch.arange(w, device=f1.device).view(1, w, 1, 1) + offsets.view(1, 1, 1, p)
    inside = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)  # [H, W, 2d+1, 2d+1]
    # Flat index of (source s, target t) in [H*W * H*W]; outside targets are
    # clamped to the border, then replaced by zeros.
    target = ys.clamp(0, h - 1) * w + xs.clamp(0, w - 1)  # [H, W, 2d+1, 2d+1]
    source = torch.arange(h * w, device=f1.device).view(h, w, 1, 1)
    index = (source * (h * w) + target).reshape(-1)  # [H*W*K]
    corr = pairs.reshape(n, h * w * h * w).index_select(1, index).view(n, h, w, p * p)
    corr = torch.where(inside.view(h, w, p * p), corr, corr.new_zeros(()))  # [N, H, W, K]
    return corr.permute(0, 3, 1, 2)  # [N, H, W, K] -> (a view) [N, K, H, W]


# name -> function ``(f1, f2, d) -> [N, K, H, W]`` of the same values.
CORRELATION_TABLE = {'strided': _strided_correlation, 'allpairs': _allpairs_correlation}
CORRELATION_IMPLS = tuple(CORRELATION_TABLE)


def local_correlation(f1: torch.Tensor, f2: torch.Tensor, max_displacement: int = 7,
                      impl: str = 'strided') -> torch.Tensor:
    """Channel-wise dot products of ``f1`` with ``f2`` at every nearby offset.

    ``out[n, k, y, x] = sum_c f1[n, c, y, x] * f2[n, c, y + dy, x + dx]`` with
    ``k = (dy + d) * (2d + 1) + (dx + d)`` and ``|dx|, |dy| <= d``; zero where
    ``(y + dy, x + dx)`` falls outside the map (zero padding). No normalisation
    is applied: L2-normalise the inputs first for cosine similarities.
    Float16/bfloat16 inputs are multiplied and summed in float32.

    Args:
        f1 (Tensor): Source features ``[N, C, H, W]``.
        f2 (Tensor): Target features ``[N, C, H, W]``.
        max_displacement (int): ``d``, the largest offset in grid cells.
            Defaults to 7 (a 15x15 patch, as the reference).
        impl (str): ``'strided'`` or ``'allpairs'`` (see the module's
            docstring); the same values up to float rounding.
            Defaults to ``'strided'``.

    Returns:
        Tensor: ``[N, (2d+1)**2, H, W]`` in the dtype of ``f1``, a view of a
        tensor whose displacements are innermost in memory, which suits the
        soft-argmax that reduces over them.
    """
    _check_pair(f1, f2, max_displacement)
    if impl not in CORRELATION_IMPLS:
        raise ValueError(f'impl must be one of {CORRELATION_IMPLS}, got {impl!r}.')
    acc = accumulation_dtype(f1.dtype)
    with torch.autocast(device_type=f1.device.type, enabled=False):
        corr = CORRELATION_TABLE[impl](f1.to(acc), f2.to(acc), max_displacement)
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
