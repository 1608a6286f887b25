"""A 1x1 convolution as one batched matrix product."""
from typing import Optional

import torch

__all__ = ['pointwise_conv']


def pointwise_conv(x: torch.Tensor, weight: torch.Tensor,
                   bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``F.conv2d(x, weight, bias)`` for a ``1 x 1`` kernel (stride 1, no padding, one group).

    Every frame's ``[C_in, H*W]`` map is multiplied by the ``[C_out, C_in]``
    weight in one batched product, the weight broadcast over the batch as a
    view. The values are the convolution's, up to the order of the sums; on
    the CPU it skips oneDNN's conversions to a blocked layout and back.
    ``tools/analysis/ablate_ms.py`` (``bmm_1x1``) measures what it saves in
    the MS module (``docs/benchmarks.md``). Eager mode, tracing, compiling
    and export run this same product.

    Args:
        x (Tensor): ``[N, C_in, H, W]``, any memory format.
        weight (Tensor): ``[C_out, C_in, 1, 1]``.
        bias (Tensor, optional): ``[C_out]``. Defaults to None.

    Returns:
        Tensor: ``[N, C_out, H, W]``, contiguous.
    """
    n, c, h, w = x.shape
    if weight.shape[1:] != (c, 1, 1):
        raise ValueError(f'pointwise_conv needs a [C_out, {c}, 1, 1] weight for {c} input '
                         f'channels; got {tuple(weight.shape)}.')
    # [C_out, C_in, 1, 1] -> [1, C_out, C_in] -> (a view) [N, C_out, C_in]
    weight = weight.view(1, -1, c).expand(n, -1, -1)
    out = torch.bmm(weight, x.reshape(n, c, h * w))  # [N, C_out, H*W]
    if bias is not None:
        out = out.add_(bias.view(1, -1, 1))
    return out.view(n, -1, h, w)  # [N, C_out, H*W] -> [N, C_out, H, W]
