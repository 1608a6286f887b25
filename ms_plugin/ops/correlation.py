"""Local correlation between two feature maps, in pure PyTorch.

``local_correlation`` is one computation for training, inference, tracing and
export. It works row by row, like a convolution written as matrix products:
for every vertical offset ``dy``, each source row (``W`` positions) is
multiplied with the zero-padded target row ``dy`` below it (``W + 2d``
positions) in one batched matrix product. The ``2d + 1`` horizontal offsets of
source column ``x`` are then the entries ``x .. x + 2d`` of row ``x`` of that
product, a diagonal band that a pad and a reshape turn into columns (the
"skew" trick). Zero padding makes the products outside the map zero, so no
mask is needed.

Only matrix products, pads, slices and reshapes are used, so the same code
runs under autograd, ``torch.compile`` and both ONNX exporters.
"""
import torch
import torch.nn.functional as F

__all__ = ['l2_normalize', 'local_correlation', 'naive_local_correlation',
           'displacement_grid', 'accumulation_dtype']


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


def _diagonal_band(prod: torch.Tensor, width: int) -> torch.Tensor:
    """Entries ``(x, x + k)``, ``k < width``, of a batch of ``[W, L]`` matrices.

    Entry ``(x, x + k)`` lies at flat position ``x * (L + 1) + k``: the first
    ``(W - 1) * (L + 1)`` flat values read as ``[W - 1, L + 1]`` hold it at
    ``(x, k)`` for every row but the last, which is sliced directly. Needs
    ``width <= L - W + 1`` (true for ``L = W + 2d`` and ``width = 2d + 1``).

    Args:
        prod (Tensor): ``[B, W, L]``, contiguous.
        width (int): Band width ``2d + 1``.

    Returns:
        Tensor: ``[B, W, width]``.
    """
    b, w, length = prod.shape
    # [B, W, L] -> [B, W*L] -> [B, (W-1)*(L+1)] -> [B, W-1, L+1] -> [B, W-1, width]
    head = prod.reshape(b, w * length)[:, :(w - 1) * (length + 1)]
    head = head.reshape(b, w - 1, length + 1)[:, :, :width]
    last = prod[:, w - 1:, w - 1:w - 1 + width]  # [B, 1, width]
    return torch.cat([head, last], dim=1)


def local_correlation(f1: torch.Tensor, f2: torch.Tensor,
                      max_displacement: int = 7) -> torch.Tensor:
    """Channel-wise dot products of ``f1`` with ``f2`` at every nearby offset.

    ``out[n, k, y, x] = sum_c f1[n, c, y, x] * f2[n, c, y + dy, x + dx]`` with
    ``k = (dy + d) * (2d + 1) + (dx + d)`` and ``|dx|, |dy| <= d``; zero where
    ``(y + dy, x + dx)`` falls outside the map (zero padding). No normalisation
    is applied: L2-normalise the inputs first for cosine similarities.

    Cost: ``(2d + 1) * (W + 2d)`` products of length C per position, against
    ``(2d + 1)**2`` for the definition; in exchange every product is part of a
    dense matrix product. Float16/bfloat16 inputs are multiplied and summed in
    float32.

    Args:
        f1 (Tensor): Source features ``[N, C, H, W]``.
        f2 (Tensor): Target features ``[N, C, H, W]``.
        max_displacement (int): ``d``, the largest offset in grid cells.
            Defaults to 7 (a 15x15 patch, as the reference).

    Returns:
        Tensor: ``[N, (2d+1)**2, H, W]`` in the dtype of ``f1``. It is a view
        of a ``[H, N, W, (2d+1)**2]`` tensor: displacements are innermost in
        memory, which suits the soft-argmax that reduces over them.
    """
    _check_pair(f1, f2, max_displacement)
    n, c, h, w = f1.shape
    d = max_displacement
    p = 2 * d + 1
    acc = accumulation_dtype(f1.dtype)
    with torch.autocast(device_type=f1.device.type, enabled=False):
        # Rows first, so that the rows dy..dy+H-1 of every map form one
        # contiguous block that needs no copy for the matrix product.
        # [N, C, H, W] -> [H, N, W, C] -> [H*N, W, C]
        src = f1.to(acc).permute(2, 0, 3, 1).reshape(h * n, w, c)
        # [N, C, H, W] -> [N, C, H+2d, W+2d] -> [H+2d, N, C, W+2d]
        tgt = F.pad(f2.to(acc), (d, d, d, d)).permute(2, 0, 1, 3).contiguous()
        bands = []
        for dy in range(p):
            rows = tgt[dy:dy + h].reshape(h * n, c, w + 2 * d)  # [H*N, C, W+2d]
            prod = torch.bmm(src, rows)  # [H*N, W, W+2d]
            bands.append(_diagonal_band(prod, p))  # [H*N, W, 2d+1 (dx)]
        corr = torch.stack(bands, dim=2)  # [H*N, W, 2d+1 (dy), 2d+1 (dx)]
    # [H*N, W, 2d+1, 2d+1] -> [H, N, W, K] -> (a view) [N, K, H, W]
    return corr.view(h, n, w, p * p).permute(1, 3, 0, 2).to(f1.dtype)


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
