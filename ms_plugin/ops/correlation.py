"""Local correlation between two feature maps, in pure PyTorch.

The correlation is computed with one batched matrix product instead of a loop
over the (2d+1)^2 displacements. The N maps are stacked into one tall map;
each block of source rows (one, or two under autograd) is multiplied with the
flat run of target positions it can reach (about ``(rows+2d)*W`` per
position, against the ``(2d+1)^2`` needed), so one ``bmm`` over all blocks
does the work, and every displacement then sits at a fixed stride in the
product: a strided view picks them out with no gather. The products that
wrapped into a neighbouring row or map are zeroed by a mask.

It accumulates in float32 (or float64) whatever the input dtype, and returns
a ``[N, (2d+1)**2, H, W]`` view of a tensor laid out as ``[N, H, W, (2d+1)**2]``:
the soft-argmax that follows reduces over displacements, which is fastest when
they are innermost in memory.
"""
import torch
import torch.nn.functional as F

from ._cache import cached_constant

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


@cached_constant
def _inside_mask(h: int, w: int, d: int, rows: int, device: torch.device,
                 dtype: torch.dtype = torch.bool) -> torch.Tensor:
    """``[H/rows, rows, W, 2d+1, 2d+1]``: where ``(y + dy, x + dx)`` lies inside the map.

    Boolean, or for a floating ``dtype`` the upper bound of a clamp: +inf
    inside, 0 outside.
    """
    offsets = torch.arange(-d, d + 1, device=device)
    ys = torch.arange(h, device=device).view(h, 1, 1, 1) + offsets.view(1, 1, -1, 1)
    xs = torch.arange(w, device=device).view(1, w, 1, 1) + offsets.view(1, 1, 1, -1)
    inside = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)  # [H, W, 2d+1, 2d+1]
    inside = inside.view(h // rows, rows, w, 2 * d + 1, 2 * d + 1)
    if dtype == torch.bool:
        return inside
    return torch.where(inside, float('inf'), 0.0).to(dtype)


def _stacked_correlation(f1: torch.Tensor, f2: torch.Tensor, d: int, rows: int,
                         relu: bool) -> torch.Tensor:
    """The correlation as one batched product over blocks of rows of the stacked maps.

    The N maps are stacked into one map of N*H rows, cut into blocks of
    ``rows`` rows (``rows`` divides H). A source block (``[rows*W, C]``) is
    multiplied with the target rows ``d`` above to ``d`` below it, read as one
    flat run of ``(rows+2d)*W + 2d`` positions that starts ``d`` positions
    early, so that every (row, column, displacement) lands at a fixed stride
    in the product. Products that cross the left/right edge of a row or the
    top/bottom edge of a map read a neighbouring row, another map or the zero
    padding; the mask zeroes them.
    """
    n, c, h, w = f1.shape
    if h % rows:
        raise ValueError(f'rows={rows} must divide the map height {h}.')
    p = 2 * d + 1
    blocks = n * h // rows
    run = (rows + 2 * d) * w + 2 * d  # flat target positions a block reaches
    # [N, C, H, W] -> [N, H, W, C] -> [blocks, rows*W, C]
    src = f1.permute(0, 2, 3, 1).reshape(blocks, rows * w, c)
    # The run of block b starts at flat position b*rows*W of the target with
    # d zero rows and d zero positions added before (and after) it.
    margin = d * w + d
    if f2.is_contiguous(memory_format=torch.channels_last):
        # [N, C, H, W] (channels last) -> [N*H*W, C] (a view) -> [N*H*W + 2*margin, C]
        tgt = F.pad(f2.permute(0, 2, 3, 1).reshape(n * h * w, c), (0, 0, margin, margin))
        runs = tgt.unfold(0, run, rows * w)  # [blocks, C, run] (transposed matrices)
    else:
        # [N, C, H, W] -> [C, N*H*W] -> [C, N*H*W + 2*margin]
        tgt = F.pad(f2.transpose(0, 1).reshape(c, n * h * w), (margin, margin))
        runs = tgt.unfold(1, run, rows * w).transpose(0, 1)  # [C, blocks, run] -> [blocks, C, run]
    prod = torch.bmm(src, runs)  # [blocks, rows*W, run]
    # (map m, block b of the map, row i, column x, dy, dx) lies at
    # (m*H/rows + b)*rows*W*run + i*(W*run + W) + x*(run + 1) + (dy + d)*W + (dx + d):
    # [blocks, rows*W, run] -> [N, H/rows, rows, W, 2d+1, 2d+1] (a strided view)
    corr = prod.as_strided((n, h // rows, rows, w, p, p),
                           (h * w * run, rows * w * run, w * run + w, run + 1, w, 1))
    if relu and not prod.requires_grad:
        # One pass: clamp to [0, +inf] inside the map and to [0, 0] outside.
        bound = _inside_mask(h, w, d, rows, f1.device, prod.dtype)
        corr = torch.clamp(corr, min=prod.new_zeros(()), max=bound)
    else:
        # Not a clamp under autograd: its gradient at 0 would differ from ReLU's.
        corr = torch.where(_inside_mask(h, w, d, rows, f1.device, torch.bool), corr, 0.0)
        corr = corr.relu_() if relu else corr
    # contiguous [N, H/rows, rows, W, 2d+1, 2d+1] -> [N, H, W, K] -> (view) [N, K, H, W]
    return corr.view(n, h, w, p * p).permute(0, 3, 1, 2)


def local_correlation(f1: torch.Tensor, f2: torch.Tensor, max_displacement: int = 7,
                      relu: bool = False) -> torch.Tensor:
    """Channel-wise dot products of ``f1`` with ``f2`` at every nearby offset.

    ``out[n, k, y, x] = sum_c f1[n, c, y, x] * f2[n, c, y + dy, x + dx]`` with
    ``k = (dy + d) * (2d + 1) + (dx + d)`` and ``|dx|, |dy| <= d``; zero where
    ``(y + dy, x + dx)`` falls outside the map (zero padding). No normalisation
    is applied: L2-normalise the inputs first for cosine similarities.

    Memory: the matrix product behind it holds ``(rows + 2d) * W + 2d``
    float32 values per position (``rows`` is 1, or 2 under autograd), freed
    once the output is taken out; for 56 pairs of 28x28 maps under autograd
    that is 56 * 784 * 462 * 4 bytes = 81 MB.

    Args:
        f1 (Tensor): Source features ``[N, C, H, W]``.
        f2 (Tensor): Target features ``[N, C, H, W]``.
        max_displacement (int): ``d``, the largest offset in grid cells.
            Defaults to 7 (a 15x15 patch, as the reference).
        relu (bool): Return ``relu(out)``, as MotionSqueeze uses it; without
            autograd this shares the pass that zeroes the borders.
            Defaults to False.

    Returns:
        Tensor: ``[N, (2d+1)**2, H, W]`` in the dtype of ``f1``.
    """
    _check_pair(f1, f2, max_displacement)
    acc = _accumulation_dtype(f1.dtype)
    with torch.autocast(device_type=f1.device.type, enabled=False):
        # One row per block multiplies the fewest numbers; under autograd two
        # rows (when the height is even) halve the backward, which sums fewer
        # overlapping runs. Measured with tools/analysis/benchmark_ms.py.
        needs_grad = torch.is_grad_enabled() and (f1.requires_grad or f2.requires_grad)
        rows = 2 if needs_grad and f1.shape[2] % 2 == 0 else 1
        corr = _stacked_correlation(f1.to(acc), f2.to(acc), max_displacement, rows, relu)
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
