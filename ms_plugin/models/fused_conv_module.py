"""A ConvModule that folds its BatchNorm into the conv at inference."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from torch.nn.modules.batchnorm import _BatchNorm

from ..ops import fold_batch_norm, pointwise_conv

__all__ = ['FusedConvModule']

_FOLDABLE_DTYPES = (torch.float32, torch.float64)
# On CPU, oneDNN's conv is faster for narrow 1x1 convs (16->32 here) and a BLAS
# matrix product for wide ones (512->64, 64->512); measured with
# tools/analysis/benchmark_ms.py on a 2-core AVX2 CPU.
_MIN_PRODUCT_CHANNELS = 64 * 256


class FusedConvModule(ConvModule):
    """:class:`mmcv.cnn.ConvModule` that runs conv + BatchNorm as one conv at inference.

    It has the same arguments, submodules and state-dict keys as
    ``ConvModule``. When no gradient is recorded and its norm is a
    BatchNorm in eval mode, the norm is folded into the conv's weight and
    bias (:func:`~ms_plugin.ops.fold_batch_norm`), which saves one pass over
    the output; on CPU a 1x1 conv then runs as a batched matrix product
    (:func:`~ms_plugin.ops.pointwise_conv`) when it is wide
    (``in_channels * out_channels >= 64 * 256``), which is faster there than
    oneDNN's conv. The result equals the unfused one up to float rounding.

    Everything else (training, gradients, other norms or layer orders,
    float16/bfloat16 inputs or autocast, where folding could overflow a
    half-precision weight, and tracing for FLOP counts) runs
    ``ConvModule.forward`` unchanged.
    """

    def _can_fold(self, x: torch.Tensor, norm: bool) -> bool:
        return (norm and self.with_norm and not torch.is_grad_enabled()
                and isinstance(self.norm, _BatchNorm) and not self.norm.training
                and self.norm.running_mean is not None and self.norm.running_var is not None
                and self.order == ('conv', 'norm', 'act') and type(self.conv) is nn.Conv2d
                and not self.with_explicit_padding and self.conv.padding_mode == 'zeros'
                and x.dtype in _FOLDABLE_DTYPES and self.conv.weight.dtype == x.dtype
                and not torch.is_autocast_enabled(x.device.type)
                and not torch.jit.is_tracing() and not torch.jit.is_scripting())

    def forward(self, x: torch.Tensor, activate: bool = True, norm: bool = True) -> torch.Tensor:
        if not self._can_fold(x, norm):
            return super().forward(x, activate, norm)
        conv, bn = self.conv, self.norm
        weight, bias = fold_batch_norm(conv.weight, conv.bias, bn.running_mean, bn.running_var,
                                       bn.weight, bn.bias, bn.eps)
        if (x.device.type == 'cpu' and conv.kernel_size == (1, 1) and conv.stride == (1, 1)
                and conv.padding == (0, 0) and conv.groups == 1
                and conv.in_channels * conv.out_channels >= _MIN_PRODUCT_CHANNELS):
            x = pointwise_conv(x, weight, bias)
        else:
            x = F.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups)
        if activate and self.with_activation:
            x = self.activate(x)
        return x
