"""Local correlation between two feature maps, in pure PyTorch.

Two implementations of the same function, chosen by name, never by device,
grad mode or memory format (``tests/test_ops.py`` checks they agree):

- ``'strided'`` (the default, for training and eager inference): the N maps
  are stacked into one tall map; each source row is multiplied, in one
  batched matrix product, with the flat run of target positions it can
  reach, read through a strided view of the padded target (no copy). Every
  (row, column, displacement) then sits at a fixed stride of the product, so
  a second strided view picks the ``(2d+1)**2`` offsets out without a gather;
  a mask zeroes the products that wrapped into another row or map.
- ``'allpairs'`` (for export): every source position against every target
  position of its map in one matrix product, as RAFT does, then the local
  window by a gather with a constant index. Matrix product, gather and
  multiply only, so both ONNX exporters (and torch 2.1's) take it; it costs
  ``(H*W)**2`` products per map instead of about ``(2d+1) * (W + 2d)``.
"""
from typing import Tuple

import torch
import torch.nn.functional as F

from .tables import allpairs_index, window_mask

__all__ = ['l2_normalize', 'local_correlation', 'local_correlation_backward',
           'naive_local_correlation',
           'displacement_grid', 'accumulation_dtype', 'CORRELATION_IMPLS', 'CORRELATION_TABLE']


def accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 for float64 inputs, else float32: half-precision sums lose too much.

    A plain comparison rather than ``torch.promote_types``, which
    ``torch.compile`` cannot trace on torch 2.1.
    """
    return torch.float64 if dtype == torch.float64 else torch.float32


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


def _strided_correlation(f1: torch.Tensor, f2: torch.Tensor, d: int) -> torch.Tensor:
    """``'strided'``: one batched product over the rows of the stacked maps.

    The N maps are stacked into one map of N*H rows. Each source row
    (``[W, C]``) is multiplied with the target rows ``d`` above to ``d``
    below it, read as one flat run of ``(2d+1)*W + 2d`` positions that starts
    ``d`` positions early, so that every (column, displacement) lands at a
    fixed stride in the product. Products that cross the left/right edge of a
    row or the top/bottom edge of a map read a neighbouring row, another map
    or the zero padding; the mask zeroes them. (A block of two rows per
    product, as the backward uses, reads a longer run per position: 6 % more
    products.)
    """
    n, c, h, w = f1.shape
    p = 2 * d + 1
    run = p * w + 2 * d  # flat target positions a row reaches
    # [N, C, H, W] -> [N, H, W, C] -> [N*H, W, C]
    src = f1.permute(0, 2, 3, 1).reshape(n * h, w, c)
    # The run of row r starts at flat position r*W of the target with d zero
    # rows and d zero positions added before (and after) it.
    margin = d * w + d
    # [N, C, H, W] -> [C, N*H*W] -> [C, N*H*W + 2*margin]
    tgt = F.pad(f2.transpose(0, 1).reshape(c, n * h * w), (margin, margin))
    runs = tgt.unfold(1, run, w).transpose(0, 1)  # [C, N*H, run] -> [N*H, C, run]
    prod = torch.bmm(src, runs)  # [N*H, W, run]
    # (map m, row y, column x, dy, dx) lies at
    # (m*H + y)*W*run + x*(run + 1) + (dy + d)*W + (dx + d):
    # [N*H, W, run] -> [N, H, W, 2d+1, 2d+1] (a strided view)
    corr = prod.as_strided((n, h, w, p, p), (h * w * run, w * run, run + 1, w, 1))
    inside = window_mask(h, w, d, f1.dtype, f1.device)  # [H, W, 2d+1, 2d+1]
    corr = corr * inside  # contiguous; 0 (or -0) outside the map
    # [N, H, W, 2d+1, 2d+1] -> [N, H, W, K] -> (a view) [N, K, H, W]
    return corr.view(n, h, w, p * p).permute(0, 3, 1, 2)


def _allpairs_correlation(f1: torch.Tensor, f2: torch.Tensor, d: int) -> torch.Tensor:
    """``'allpairs'``: all pairs of positions of a map, then the local window."""
    n, c, h, w = f1.shape
    p = 2 * d + 1
    src = f1.reshape(n, c, h * w).transpose(1, 2)  # [N, C, H, W] -> [N, H*W, C]
    tgt = f2.reshape(n, c, h * w)  # [N, C, H, W] -> [N, C, H*W]
    pairs = torch.bmm(src, tgt)  # [N, H*W (source), H*W (target)]
    inside = window_mask(h, w, d, f1.dtype, f1.device)  # [H, W, 2d+1, 2d+1]
    # Flat index of (source s, target t) in [N, H*W*H*W]: s * H*W + t.
    index = allpairs_index(h, w, d, f1.device)  # [H*W*K]
    corr = pairs.reshape(n, h * w * h * w).index_select(1, index)  # [N, H*W*K]
    corr = corr.view(n, h, w, p * p) * inside.view(h, w, p * p)  # [N, H, W, K]
    return corr.permute(0, 3, 1, 2)  # [N, H, W, K] -> (a view) [N, K, H, W]


# name -> function ``(f1, f2, d) -> [N, K, H, W]`` of the same values; adding an
# implementation is one entry here (the tests run over every entry).
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
        impl (str): ``'strided'`` (fast in eager PyTorch; its matrix product
            holds ``(2d + 1) * W + 2d`` values per position) or
            ``'allpairs'`` (exportable to ONNX; ``H * W`` values per
            position). The same values either way, up to float rounding.
            Defaults to ``'strided'``.

    Returns:
        Tensor: ``[N, (2d+1)**2, H, W]`` in the dtype of ``f1``, a view of a
        ``[N, H, W, (2d+1)**2]`` tensor: displacements are innermost in
        memory, which suits the soft-argmax that reduces over them.
    """
    _check_pair(f1, f2, max_displacement)
    if impl not in CORRELATION_IMPLS:
        raise ValueError(f'impl must be one of {CORRELATION_IMPLS}, got {impl!r}.')
    acc = accumulation_dtype(f1.dtype)
    compute = CORRELATION_TABLE[impl]
    with torch.autocast(device_type=f1.device.type, enabled=False):
        corr = compute(f1.to(acc), f2.to(acc), max_displacement)
    return corr.to(f1.dtype)


def local_correlation_backward(grad: torch.Tensor, f1: torch.Tensor, f2: torch.Tensor,
                               max_displacement: int = 7) -> Tuple[torch.Tensor, torch.Tensor]:
    """The gradients of :func:`local_correlation` with respect to ``f1`` and ``f2``.

    The transpose of ``'strided'``, written out: the gradient is placed at
    the same strides of a zero product, then the two matrix products of the
    forward are transposed and the overlapping runs of target positions are
    summed back. Rows are laid out ``max(W, 2d+1)`` positions apart here, so
    that the offsets of one position never share a place (the forward, which
    only reads, packs them ``W`` apart). Used by
    :func:`~ms_plugin.ops.correlation_soft_argmax`, which recomputes rather
    than keeps what backward needs.

    Args:
        grad (Tensor): ``[N, H, W, (2d+1)**2]``, the gradient of the output
            in its memory layout (displacements innermost).
        f1 (Tensor): Source features ``[N, C, H, W]``.
        f2 (Tensor): Target features ``[N, C, H, W]``.
        max_displacement (int): ``d``. Defaults to 7.

    Returns:
        tuple[Tensor, Tensor]: ``[N, C, H, W]`` each, in the dtype of ``grad``.
    """
    d = max_displacement
    n, c, h, w = f1.shape
    p = 2 * d + 1
    rows = 2 if h % 2 == 0 else 1
    pitch = max(w, p)  # positions between the starts of two rows
    blocks, step = n * h // rows, rows * pitch
    run = (rows + 2 * d) * pitch + 2 * d
    margin = d * pitch + d
    f1 = F.pad(f1.to(grad.dtype), (0, pitch - w))  # [N, C, H, W] -> [N, C, H, pitch]
    f2 = F.pad(f2.to(grad.dtype), (0, pitch - w))
    # [N, C, H, pitch] -> [N, H, pitch, C] -> [blocks, step, C]
    src = f1.permute(0, 2, 3, 1).reshape(blocks, step, c)
    # [N, C, H, pitch] -> [C, N*H*pitch] -> (padded) -> [blocks, C, run] (a view)
    tgt = F.pad(f2.transpose(0, 1).reshape(c, n * h * pitch), (margin, margin))
    runs = tgt.unfold(1, run, step).transpose(0, 1)
    inside = window_mask(h, w, d, grad.dtype, grad.device).view(h // rows, rows, w, p, p)
    grad_prod = grad.new_zeros(blocks, step, run)
    # [blocks, step, run] -> [N, H/rows, rows, W, 2d+1, 2d+1] (a strided view, no overlap)
    torch.mul(grad.view(n, h // rows, rows, w, p, p), inside,
              out=grad_prod.as_strided((n, h // rows, rows, w, p, p),
                                       (h * pitch * run, step * run, pitch * run + pitch,
                                        run + 1, pitch, 1)))
    grad_src = torch.bmm(grad_prod, runs.transpose(1, 2))  # [blocks, step, C]
    # [blocks, step, C] -> [N, H, pitch, C] -> [N, H, W, C] -> [N, C, H, W]
    grad_src = grad_src.view(n, h, pitch, c)[:, :, :w].permute(0, 3, 1, 2)
    grad_runs = torch.bmm(src.transpose(1, 2), grad_prod)  # [blocks, C, run]
    # Run b covers padded target positions b*step .. b*step + run - 1: sum the
    # runs back chunk by chunk, chunk j of run b landing on chunk b + j.
    chunks = -(-run // step)
    grad_tgt = grad.new_zeros(c, blocks + chunks - 1, step)
    for j in range(chunks):
        width = min(step, run - j * step)  # the last chunk may be shorter
        # [blocks, C, width] -> [C, blocks, width]
        grad_tgt[:, j:j + blocks, :width] += grad_runs[:, :, j * step:j * step + width].transpose(
            0, 1)
    # [C, (blocks + chunks - 1)*step] -> [C, N, H, pitch] -> [C, N, H, W] -> [N, C, H, W]
    grad_tgt = grad_tgt.view(c, -1)[:, margin:margin + n * h * pitch].view(c, n, h, pitch)
    return grad_src, grad_tgt[..., :w].transpose(0, 1)


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
