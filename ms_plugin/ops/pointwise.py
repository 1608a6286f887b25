"""A 1x1 convolution as one batched matrix product."""
from typing import Optional

import torch
import torch.nn.functional as F

from .tables import recording_a_graph

__all__ = ['pointwise_conv']


def pointwise_conv(x: torch.Tensor, weight: torch.Tensor,
                   bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``F.conv2d(x, weight, bias)`` for a ``1 x 1`` kernel (stride 1, no padding, one group).

    Every frame's ``[C_in, H*W]`` map is multiplied by the ``[C_out, C_in]``
    weight in one batched product, the weight broadcast over the batch as a
    view. The values are the convolution's, up to the order of the sums. On
    the CPU, oneDNN's convolution converts its input and output to a blocked
    layout and back, through buffers as large as the output; the product
    reads and writes ``[N, C, H, W]`` as it is.
    ``tools/analysis/benchmark_ops.py`` times both on the MS module's 1x1
    convs (its output on a 2-core AMD EPYC is in ``docs/benchmarks.md``).

    While a graph is recorded (a TorchScript trace for ONNX export or FLOP
    counting, ``torch.compile``), the convolution itself is recorded: ONNX
    Runtime runs a ``Conv`` (with its bias) faster than a ``MatMul`` and an
    ``Add``.

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
    if recording_a_graph():
        return F.conv2d(x, weight, bias)
    # [C_out, C_in, 1, 1] -> [1, C_out, C_in] -> (a view) [N, C_out, C_in]
    weight = weight.view(1, -1, c).expand(n, -1, -1)
    x = x.reshape(n, c, h * w)  # [N, C_in, H, W] -> [N, C_in, H*W]
    if bias is None:
        out = torch.bmm(weight, x)  # [N, C_out, H*W]
    else:  # the bias, [C_out] -> (a view) [N, C_out, H*W], added by the product itself
        out = torch.baddbmm(bias.view(1, -1, 1).expand(n, -1, h * w), weight, x)
    return out.view(n, -1, h, w)  # [N, C_out, H*W] -> [N, C_out, H, W]
