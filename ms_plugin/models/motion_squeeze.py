"""The MotionSqueeze (MS) module of Kwon et al., ECCV 2020 (the paper's Figure 2)."""
import contextlib
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmaction.registry import MODELS
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch.utils.checkpoint import checkpoint

from ..ops import (MATCHING_IMPLS, SOFT_ARGMAX_MODES, accumulation_dtype,
                   correlation_motion, l2_normalize, relu_add)

__all__ = ['MotionSqueeze', 'SeparableConvBlock', 'motion_squeeze_modules', 'capture_motion']


class SeparableConvBlock(nn.Sequential):
    """Depthwise ``k x k`` conv -> norm -> act -> ``1 x 1`` conv -> norm -> act, no bias.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Kernel size of the depthwise conv (odd).
        norm_cfg (dict): Config of the norm layers. Defaults to ``dict(type='BN')``.
        act_cfg (dict): Config of the activations. Defaults to ``dict(type='ReLU')``.
        pointwise_act (bool): Whether the ``1 x 1`` conv has the activation
            (the MS module's last block leaves a ReLU to its residual sum).
            Defaults to True.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                 norm_cfg: dict = dict(type='BN'), act_cfg: dict = dict(type='ReLU'),
                 pointwise_act: bool = True) -> None:
        if kernel_size % 2 != 1:
            raise ValueError(f'kernel_size must be odd to keep the map size, got {kernel_size}.')
        super().__init__()
        self.depthwise = ConvModule(in_channels, in_channels, kernel_size,
                                    padding=kernel_size // 2, groups=in_channels,
                                    bias=False, norm_cfg=norm_cfg, act_cfg=act_cfg)
        # 1x1 convs as one batched product: docs/benchmarks.md measures the saving.
        self.pointwise = ConvModule(in_channels, out_channels, 1, bias=False,
                                    norm_cfg=norm_cfg,
                                    act_cfg=act_cfg if pointwise_act else None)


@MODELS.register_module()
class MotionSqueeze(BaseModule):
    """MotionSqueeze: motion features from the features of adjacent frames.

    For each pair of frames (t, t+1) of a clip: reduce channels (1x1 conv),
    L2-normalise, correlate locally (a ``(2d+1) x (2d+1)`` neighbourhood, ReLU),
    turn the correlation into a displacement (dx, dy) by kernel-soft-argmax
    and a confidence (its maximum), repeat the last pair's map for the last
    frame, transform the 3-channel motion map with four depthwise-separable
    conv blocks back to ``in_channels`` and add it to the input.

    Every default is the authors' reference value.

    Args:
        in_channels (int): Channels C of the input (512 after res3 of
            ResNet-50, 128 for ResNet-18).
        num_segments (int): Frames T per clip; the batch holds N*T frames,
            clip-major. At least 2.
        reduced_channels (int): Channels after the 1x1 reduction. Defaults to 64.
        max_displacement (int): Largest offset d of the correlation, in
            feature-grid cells. Defaults to 7 (a 15x15 patch).
        sigma (float): Std of the Gaussian of the kernel-soft-argmax, in grid
            cells. Defaults to 5.0.
        temperature (float): Softmax temperature (multiplies the logits).
            Defaults to 100.0.
        soft_argmax (str): ``'kernel'`` (the paper's), ``'plain'`` or
            ``'hard'`` (ablations). Defaults to ``'kernel'``.
        use_confidence (bool): Feed the confidence map to the transform
            besides (dx, dy). Defaults to True.
        correlation_impl (str): How :func:`~ms_plugin.ops.correlation_motion`
            computes the same values: ``'fused'`` (one function with a
            written-out backward that keeps only its inputs; the fastest),
            ``'strided'`` (plain autograd, the matching recomputed in backward
            by ``torch.utils.checkpoint``) or ``'allpairs'`` (the same, and
            exportable to ONNX; the export tool sets it). Defaults to ``'fused'``.
        transform_channels (Sequence[int]): Output channels of the first three
            separable blocks; the fourth outputs ``in_channels``.
            Defaults to ``(16, 32, 64)``.
        transform_kernel_sizes (Sequence[int]): Depthwise kernel size of each
            of the four blocks. Defaults to ``(7, 3, 3, 3)``.
        norm_cfg (dict): Config of the norm layers. Defaults to ``dict(type='BN')``.
        act_cfg (dict): Config of the activations. Defaults to ``dict(type='ReLU')``.
        init_cfg (dict, optional): MMEngine init config. Defaults to None
            (convs keep ConvModule's Kaiming fan-out init, norms weight 1 bias 0,
            as the reference).

    Attributes:
        motion_sink (list | None): Where :meth:`forward` appends its motion
            map, detached, when set; :func:`capture_motion` sets it. Defaults
            to None (nothing is kept).
    """

    def __init__(self,
                 in_channels: int,
                 num_segments: int,
                 reduced_channels: int = 64,
                 max_displacement: int = 7,
                 sigma: float = 5.0,
                 temperature: float = 100.0,
                 soft_argmax: str = 'kernel',
                 use_confidence: bool = True,
                 correlation_impl: str = 'fused',
                 transform_channels: Sequence[int] = (16, 32, 64),
                 transform_kernel_sizes: Sequence[int] = (7, 3, 3, 3),
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_segments < 2:
            raise ValueError('MotionSqueeze needs num_segments >= 2 (it correlates adjacent '
                             f'frames); got num_segments={num_segments}.')
        if soft_argmax not in SOFT_ARGMAX_MODES:
            raise ValueError(f'soft_argmax must be one of {SOFT_ARGMAX_MODES}, '
                             f'got {soft_argmax!r}.')
        if correlation_impl not in MATCHING_IMPLS:
            raise ValueError(f'correlation_impl must be one of {MATCHING_IMPLS}, '
                             f'got {correlation_impl!r}.')
        if soft_argmax != 'hard' and not temperature > 0:
            raise ValueError(f'temperature must be positive, got {temperature}.')
        if soft_argmax == 'kernel' and not sigma > 0:
            raise ValueError(f'sigma must be positive, got {sigma}.')
        if len(transform_kernel_sizes) != len(transform_channels) + 1:
            raise ValueError('transform_kernel_sizes needs one entry per block, i.e. '
                             f'len(transform_channels) + 1 = {len(transform_channels) + 1}; '
                             f'got {tuple(transform_kernel_sizes)}.')
        self.in_channels = in_channels
        self.num_segments = num_segments
        self.max_displacement = max_displacement
        self.sigma = sigma
        self.temperature = temperature
        self.soft_argmax = soft_argmax
        self.use_confidence = use_confidence
        self.correlation_impl = correlation_impl
        self.motion_sink: Optional[List[torch.Tensor]] = None

        self.reduce = ConvModule(in_channels, reduced_channels, 1, bias=False,
                                 norm_cfg=norm_cfg,
                                 act_cfg=act_cfg)
        # A last ReLU feeds only the residual sum: ops.relu_add runs both and
        # keeps a 1-byte mask for backward instead of the ReLU's output
        # (docs/benchmarks.md); the last block is built without it.
        self.relu_in_sum = (act_cfg or {}).get('type') == 'ReLU'
        channels = [3 if use_confidence else 2, *transform_channels, in_channels]
        last = len(transform_kernel_sizes) - 1
        self.transform = nn.Sequential(*[
            SeparableConvBlock(channels[i], channels[i + 1], kernel_size, norm_cfg, act_cfg,
                               pointwise_act=not (i == last and self.relu_in_sum))
            for i, kernel_size in enumerate(transform_kernel_sizes)
        ])

    def init_weights(self) -> None:
        """Kaiming (fan-out) convs and unit norms, as the reference.

        Without an ``init_cfg``, MMEngine does not reach the ConvModules nested
        in ``transform``'s plain Sequentials, so they are re-initialised here.
        """
        super().init_weights()
        if self.init_cfg is None:
            for module in self.modules():
                if isinstance(module, ConvModule):
                    module.init_weights()

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4:
            raise ValueError('MotionSqueeze expects frame features [N*T, C, H, W]; '
                             f'got a {x.dim()}-D tensor of shape {tuple(x.shape)}.')
        if x.shape[1] != self.in_channels:
            raise ValueError(f'MotionSqueeze was built with in_channels={self.in_channels} but '
                             f'got {x.shape[1]} channels; set in_channels to the channels of '
                             'the stage it follows.')
        if x.shape[0] % self.num_segments != 0:
            raise ValueError(f'MotionSqueeze got a batch of {x.shape[0]} frames, not a multiple '
                             f'of num_segments={self.num_segments}; the batch must be N clips x '
                             'T frames, clip-major. Check num_segments against the '
                             "pipeline's clip_len * num_clips.")

    def frame_pairs(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The reduced, L2-normalised features of the frames t and t+1 of every pair.

        Args:
            x (Tensor): ``[N*T, C, H, W]`` input features.

        Returns:
            tuple[Tensor, Tensor]: ``[N*(T-1), C', H, W]`` each (frames
            0..T-2 and 1..T-1 of every clip), in float32 (at least).
        """
        self._check_input(x)
        t = self.num_segments
        with torch.autocast(device_type=x.device.type, enabled=False):
            # Under autocast the reduction runs in float32 too, in the weights'
            # dtype: temperature * corr needs the precision (bf16 features
            # moved the motion map by 10 %).
            feat = self.reduce(x.to(self.reduce.conv.weight.dtype))  # [N*T, C', H, W]
            feat = l2_normalize(feat.to(accumulation_dtype(feat.dtype)))
        nt, c, h, w = feat.shape
        feat = feat.view(nt // t, t, c, h, w)  # [N*T, C', H, W] -> [N, T, C', H, W]
        src = feat[:, :-1].reshape(-1, c, h, w)  # [N, T-1, C', H, W] -> [N*(T-1), C', H, W]
        tgt = feat[:, 1:].reshape(-1, c, h, w)
        return src, tgt

    def estimate_motion(self, x: torch.Tensor) -> torch.Tensor:
        """Displacement and confidence of every frame, before the transform.

        Args:
            x (Tensor): ``[N*T, C, H, W]`` input features.

        Returns:
            Tensor: ``[N*T, 3, H, W]`` holding dx, dy (in ``[-1, 1]``) and the
            confidence, in float32 (at least); the last frame repeats the map
            of the pair (T-2, T-1).
        """
        src, tgt = self.frame_pairs(x)
        _, _, h, w = src.shape
        args = (src, tgt, self.max_displacement, self.sigma, self.temperature, self.soft_argmax,
                self.correlation_impl)
        with torch.autocast(device_type=src.device.type, enabled=False):
            # Correlation, ReLU and soft-argmax. Backward runs the correlation
            # again rather than keep correlation-sized tensors
            # ([N*(T-1), (2d+1)**2, H, W] each): 'fused' itself, the others
            # by a checkpoint (docs/benchmarks.md).
            if self.correlation_impl == 'fused':
                motion = correlation_motion(*args)  # [N*(T-1), 3, H, W]
            else:
                motion = checkpoint(correlation_motion, *args, use_reentrant=False)
        motion = motion.view(-1, self.num_segments - 1, 3, h, w)  # -> [N, T-1, 3, H, W]
        # The last frame has no successor: it repeats the last pair's map.
        motion = torch.cat([motion, motion[:, -1:]], dim=1)  # -> [N, T, 3, H, W]
        return motion.flatten(0, 1)  # -> [N*T, 3, H, W]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x + transform(dx, dy, confidence)``.

        Args:
            x (Tensor): ``[N*T, C, H, W]`` features, clip-major.

        Returns:
            Tensor: ``[N*T, C, H, W]``.
        """
        motion = self.estimate_motion(x)  # [N*T, 3, H, W]
        if self.motion_sink is not None:
            self.motion_sink.append(motion.detach())
        if not self.use_confidence:
            motion = motion[:, :2]  # [N*T, 3, H, W] -> [N*T, 2, H, W]
        # Under autocast the convs give half precision: the sum is in x's dtype.
        out = self.transform(motion.to(x.dtype)).to(x.dtype)  # [N*T, C, H, W]
        return relu_add(out, x) if self.relu_in_sum else x + out

    def extra_repr(self) -> str:
        return (f'num_segments={self.num_segments}, max_displacement={self.max_displacement}, '
                f'sigma={self.sigma}, temperature={self.temperature}, '
                f'soft_argmax={self.soft_argmax!r}, use_confidence={self.use_confidence}, '
                f'correlation_impl={self.correlation_impl!r}')


def motion_squeeze_modules(model: nn.Module) -> Dict[str, MotionSqueeze]:
    """Every :class:`MotionSqueeze` module of ``model``, by qualified name.

    Works for any model (recognizer, backbone, timm-based backbone, a bare
    module): it walks ``model.named_modules()``.

    Returns:
        dict[str, MotionSqueeze]: e.g. ``{'backbone.ms_layer2': module}``, in
        registration order; the model itself is named ``''``.
    """
    return {name: module for name, module in model.named_modules()
            if isinstance(module, MotionSqueeze)}


@contextlib.contextmanager
def capture_motion(model: nn.Module) -> Iterator[Dict[str, List[torch.Tensor]]]:
    """Collect the motion maps of every MS module of ``model`` during a block.

    Every forward of a module inside the block appends its
    ``[N*T, 3, H, W]`` map (dx, dy in ``[-1, 1]``, i.e. units of the module's
    ``max_displacement`` cells, +x right, +y down; then the confidence),
    detached, to the module's list; several forwards (e.g. the chunks of
    ``test_cfg.max_testing_views``) give several entries. Nothing is kept
    outside the block.

    Example:
        >>> with capture_motion(model) as motion:
        ...     model.test_step(data)
        >>> dx_dy_conf = torch.cat(motion['backbone.ms_layer2'])

    Raises:
        ValueError: If ``model`` holds no MotionSqueeze module.
    """
    modules = motion_squeeze_modules(model)
    if not modules:
        raise ValueError(
            f'{type(model).__name__} holds no MotionSqueeze module, so there is no motion to '
            "capture. Use a backbone with one (e.g. backbone=dict(type='ResNetTSM_MS', ...), "
            'check its ms_stages) or add a MotionSqueeze module to your backbone.')
    sinks: Dict[str, List[torch.Tensor]] = {name: [] for name in modules}
    for name, module in modules.items():
        module.motion_sink = sinks[name]
    try:
        yield sinks
    finally:
        for module in modules.values():
            module.motion_sink = None
