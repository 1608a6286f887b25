"""Inference-time folding of a BatchNorm into the convolution before it."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

__all__ = ['fold_batch_norm', 'pointwise_conv', 'pointwise_conv_relu_add']


def fold_batch_norm(weight: torch.Tensor, bias: Optional[torch.Tensor],
                    running_mean: torch.Tensor, running_var: torch.Tensor,
                    norm_weight: Optional[torch.Tensor], norm_bias: Optional[torch.Tensor],
                    eps: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of one conv equal to ``conv`` followed by an eval-mode BatchNorm.

    ``bn(conv(x)) = gamma * (W x + b - mean) / sqrt(var + eps) + beta``, so the
    folded conv has ``W' = W * s`` and ``b' = (b - mean) * s + beta`` with
    ``s = gamma / sqrt(var + eps)`` per output channel.

    Args:
        weight (Tensor): Conv weight ``[C_out, C_in / groups, kh, kw]``.
        bias (Tensor, optional): Conv bias ``[C_out]``.
        running_mean (Tensor): BatchNorm running mean ``[C_out]``.
        running_var (Tensor): BatchNorm running variance ``[C_out]``.
        norm_weight (Tensor, optional): BatchNorm gamma (None: not affine).
        norm_bias (Tensor, optional): BatchNorm beta (None: not affine).
        eps (float): BatchNorm epsilon.

    Returns:
        tuple[Tensor, Tensor]: the folded weight (shape of ``weight``) and bias ``[C_out]``.
    """
    scale = torch.rsqrt(running_var + eps)  # [C_out]
    if norm_weight is not None:
        scale = scale * norm_weight
    centre = running_mean if bias is None else running_mean - bias
    if norm_bias is None:
        shift = -(centre * scale)
    else:
        shift = torch.addcmul(norm_bias, centre, scale, value=-1)  # beta - centre * scale
    # [C_out] -> [C_out, 1, 1, 1] to scale each output filter
    return weight * scale.view(-1, *([1] * (weight.dim() - 1))), shift


def pointwise_conv(x: torch.Tensor, weight: torch.Tensor,
                   bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """A 1x1 convolution (stride 1, no groups) as one matrix product per map.

    The pixels of each map are the rows of a ``[H*W, C_in]`` matrix (a view
    of a channels-last input, a transposed view of a contiguous one) that is
    multiplied by the transposed weight; the output is channels-last, which
    needs no transpose afterwards and measured faster for the 512->64
    reduction of MotionSqueeze.

    Args:
        x (Tensor): ``[N, C_in, H, W]``.
        weight (Tensor): ``[C_out, C_in, 1, 1]``.
        bias (Tensor, optional): ``[C_out]``.

    Returns:
        Tensor: ``[N, C_out, H, W]`` in channels-last memory format, equal to
        ``F.conv2d(x, weight, bias)``.
    """
    n, c, h, w = x.shape
    if weight.shape[1:] != (c, 1, 1):
        raise ValueError(f'pointwise_conv needs a [C_out, {c}, 1, 1] weight for {c} input '
                         f'channels; got {tuple(weight.shape)}.')
    if x.is_contiguous(memory_format=torch.channels_last):
        # [N, C_in, H, W] -> [N, H, W, C_in] (a view) -> [N, H, W, C_out]
        out = F.linear(x.permute(0, 2, 3, 1), weight.view(-1, c), bias)
    else:
        rows = x.reshape(n, c, h * w).transpose(1, 2)  # -> [N, H*W, C_in] (a view)
        mat = weight.view(-1, c).t().expand(n, -1, -1)  # [C_out, C_in, 1, 1] -> [N, C_in, C_out]
        if bias is None:
            out = torch.bmm(rows, mat)  # [N, H*W, C_out]
        else:
            # The bias is the matrix product's starting value: no separate pass.
            out = torch.baddbmm(bias.view(1, 1, -1).expand(n, h * w, -1), rows, mat)
        out = out.view(n, h, w, -1)  # [N, H*W, C_out] -> [N, H, W, C_out]
    return out.permute(0, 3, 1, 2)  # -> [N, C_out, H, W] (a channels-last view)


def pointwise_conv_relu_add(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                            residual: torch.Tensor) -> torch.Tensor:
    """``relu(conv1x1(x) + bias) + residual`` in two passes over the output.

    The matrix product accumulates onto ``residual + bias``, and
    ``relu(z) + r = max(z + r, r)`` finishes it, where conv, ReLU and sum
    would take four passes. Equal to the unfused result up to float rounding.

    Args:
        x (Tensor): ``[N, C_in, H, W]``.
        weight (Tensor): ``[C_out, C_in, 1, 1]``.
        bias (Tensor): ``[C_out]``.
        residual (Tensor): ``[N, C_out, H, W]``, left unchanged.

    Returns:
        Tensor: ``[N, C_out, H, W]``, contiguous.
    """
    n, c, h, w = x.shape
    if weight.shape[1:] != (c, 1, 1) or residual.shape != (n, weight.shape[0], h, w):
        raise ValueError('pointwise_conv_relu_add needs a [C_out, C_in, 1, 1] weight and an '
                         f'[N, C_out, H, W] residual; got x {tuple(x.shape)}, weight '
                         f'{tuple(weight.shape)}, residual {tuple(residual.shape)}.')
    res = residual.reshape(n, -1, h * w)  # [N, C_out, H, W] -> [N, C_out, H*W]
    out = res + bias.view(1, -1, 1)
    # [N, C_out, H*W] += [N, C_out, C_in] x [N, C_in, H*W]
    out = out.baddbmm_(weight.view(1, -1, c).expand(n, -1, -1), x.reshape(n, c, h * w))
    if torch.is_grad_enabled():
        out = torch.maximum(out, res)
    else:
        out = torch.maximum(out, res, out=out)
    return out.view(n, -1, h, w)  # [N, C_out, H*W] -> [N, C_out, H, W]
