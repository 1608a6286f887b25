"""A ConvModule that folds its BatchNorm into the conv at inference."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from torch.nn.modules.batchnorm import _BatchNorm

from ..ops import fold_batch_norm, pointwise_conv, pointwise_conv_relu_add

__all__ = ['FusedConvModule']

_FOLDABLE_DTYPES = (torch.float32, torch.float64)
# On CPU a 1x1 conv runs faster as a BLAS matrix product than as oneDNN's conv
# on channels-last maps, and on contiguous ones when it is wide (512->64,
# 64->512); oneDNN wins for narrow ones on contiguous maps (16->32). Measured
# on a 2-core AVX2 CPU while tuning tools/analysis/benchmark_ms.py.
_MIN_PRODUCT_CHANNELS = 64 * 256


def _add_residual(out: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    if torch.is_grad_enabled() or out.dtype != residual.dtype or out.shape != residual.shape:
        return residual + out
    return out.add_(residual)  # inference: into the fresh output, not a new map


class FusedConvModule(ConvModule):
    """:class:`mmcv.cnn.ConvModule` that runs conv + BatchNorm as one conv at inference.

    It has the same arguments, submodules and state-dict keys as
    ``ConvModule``. When no gradient is recorded and its norm is a
    BatchNorm in eval mode, the norm is folded into the conv's weight and
    bias (:func:`~ms_plugin.ops.fold_batch_norm`), which saves one pass over
    the output; on CPU a 1x1 conv then runs as a matrix product
    (:func:`~ms_plugin.ops.pointwise_conv`) when its input is channels-last
    or it is wide (``in_channels * out_channels >= 64 * 256``), which is
    faster there than oneDNN's conv. The result equals the unfused one up to
    float rounding.

    Everything else (training, gradients, other norms or layer orders,
    float16/bfloat16 inputs or autocast, where folding could overflow a
    half-precision weight, and tracing for FLOP counts) runs
    ``ConvModule.forward`` unchanged.

    Its forward also takes an optional ``residual`` added to the output
    (after the activation); a wide 1x1 conv with ReLU then adds it inside
    its matrix product (:func:`~ms_plugin.ops.pointwise_conv_relu_add`).
    """

    def _can_fold(self, x: torch.Tensor, norm: bool) -> bool:
        if not norm or not self.with_norm or torch.is_grad_enabled():
            return False
        bn, conv = self.norm, self.conv
        return (isinstance(bn, _BatchNorm) and not bn.training
                and bn.running_mean is not None and bn.running_var is not None
                and type(conv) is nn.Conv2d and conv.padding_mode == 'zeros'
                and self.order == ('conv', 'norm', 'act') and not self.with_explicit_padding
                and x.dtype in _FOLDABLE_DTYPES and conv.weight.dtype == x.dtype
                and not torch.is_autocast_enabled(x.device.type)
                and not torch.jit.is_tracing() and not torch.jit.is_scripting())

    def forward(self, x: torch.Tensor, activate: bool = True, norm: bool = True,
                residual: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Conv, norm and activation, plus ``residual`` when given.

        Args:
            x (Tensor): Input ``[N, C_in, H, W]``.
            activate (bool): Apply the activation. Defaults to True.
            norm (bool): Apply the norm. Defaults to True.
            residual (Tensor, optional): Added to the output. Defaults to None.

        Returns:
            Tensor: ``[N, C_out, H', W']``.
        """
        if not self._can_fold(x, norm):
            out = super().forward(x, activate, norm)
            return out if residual is None else _add_residual(out, residual)
        conv, bn = self.conv, self.norm
        weight, bias = fold_batch_norm(conv.weight, conv.bias, bn.running_mean, bn.running_var,
                                       bn.weight, bn.bias, bn.eps)
        if (x.device.type == 'cpu' and conv.kernel_size == (1, 1) and conv.stride == (1, 1)
                and conv.padding == (0, 0) and conv.groups == 1
                and (x.is_contiguous(memory_format=torch.channels_last)
                     or conv.in_channels * conv.out_channels >= _MIN_PRODUCT_CHANNELS)):
            if (residual is not None and activate and type(self.activate) is nn.ReLU
                    and residual.dtype == x.dtype
                    and residual.shape == (x.shape[0], conv.out_channels) + x.shape[2:]):
                return pointwise_conv_relu_add(x, weight, bias, residual)
            out = pointwise_conv(x, weight, bias)
        else:
            out = F.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)
        if activate and self.with_activation:
            out = self.activate(out)
        return out if residual is None else _add_residual(out, residual)
