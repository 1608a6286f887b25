"""``PointwiseConv2d``: an ``nn.Conv2d`` of kernel 1 run as one batched matrix product."""
import torch
import torch.nn as nn
from mmaction.registry import MODELS

from ..ops import pointwise_conv

__all__ = ['PointwiseConv2d']


@MODELS.register_module()
class PointwiseConv2d(nn.Conv2d):
    """A ``1 x 1`` ``nn.Conv2d`` whose forward is :func:`~ms_plugin.ops.pointwise_conv`.

    The same parameters and state-dict keys as ``nn.Conv2d(in_channels,
    out_channels, 1)``, so checkpoints, ``fuse_conv_bn`` and the exporters
    treat it as that conv; only the forward is one batched matrix product.
    Build it in a ``ConvModule`` with ``conv_cfg=dict(type=PointwiseConv2d)``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Must be 1. Defaults to 1.
        bias (bool): Whether to add a bias. Defaults to True.
        **kwargs: ``stride``, ``padding``, ``dilation`` and ``groups`` as
            ``nn.Conv2d`` takes them, which must keep their defaults (1, 0,
            1, 1); ``ConvModule`` passes them.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1,
                 bias: bool = True, **kwargs) -> None:
        super().__init__(in_channels, out_channels, kernel_size, bias=bias, **kwargs)
        plain = dict(kernel_size=(1, 1), stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                     groups=1, padding_mode='zeros')
        got = {key: getattr(self, key) for key in plain}
        if got != plain:
            raise ValueError(f'PointwiseConv2d is a 1x1 conv with {plain}; got {got}.')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pointwise_conv(x, self.weight, self.bias)
