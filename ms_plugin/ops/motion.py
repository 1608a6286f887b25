"""Correlation -> ReLU -> (kernel-)soft-argmax as one op that keeps little for backward."""
from typing import Tuple

import torch

from .correlation import accumulation_dtype, local_correlation, local_correlation_backward
from .soft_argmax import kernel_soft_argmax, soft_argmax_backward
from .tables import recording_a_graph

__all__ = ['correlation_motion', 'correlation_soft_argmax']


class _CorrelationMotion(torch.autograd.Function):
    """Keeps the two feature maps for backward, and recomputes from them.

    Through autograd, the chain would keep four correlation-sized tensors
    (``[N, (2d+1)**2, H, W]``: the ReLU's output, the Gaussian weights, the
    logits, the softmax's output), 4.7 MiB each for 7 pairs of 28x28 maps.
    Backward recomputes the correlation (one matrix product) and the softmax
    instead, and runs the gradients written out in
    :func:`~ms_plugin.ops.soft_argmax_backward` and
    :func:`~ms_plugin.ops.local_correlation_backward`. The forward is the
    chain itself, so its values are those of the plain functions.
    """

    @staticmethod
    def forward(ctx, f1: torch.Tensor, f2: torch.Tensor, d: int, sigma: float,
                temperature: float, mode: str, impl: str) -> torch.Tensor:
        ctx.save_for_backward(f1, f2)
        ctx.args = (d, sigma, temperature, mode, impl)
        return _chain(f1, f2, d, sigma, temperature, mode, impl)

    @staticmethod
    def backward(ctx, grad_motion: torch.Tensor):
        f1, f2 = ctx.saved_tensors
        d, sigma, temperature, mode, impl = ctx.args
        with torch.autocast(device_type=f1.device.type, enabled=False):
            corr = local_correlation(f1, f2, d, impl).relu_()  # [N, K, H, W], recomputed
            # [N, 3, H, W] -> [N, 2, H, W] (dx, dy) and [N, 1, H, W] (confidence)
            grad = soft_argmax_backward(corr, grad_motion[:, :2], grad_motion[:, 2:], d, sigma,
                                        temperature, mode)  # [N, H, W, K]
            # ReLU: the gradient passes where its output (>= 0) is nonzero;
            # a float mask multiplied in place (torch.where with a bool mask
            # takes a slow path on the CPU). `grad` is a new tensor.
            # [N, K, H, W] -> [N, H, W, K] (a view of the op's layout)
            grad = grad.mul_(corr.permute(0, 2, 3, 1).bool().view(torch.uint8).to(grad.dtype))
            grad_f1, grad_f2 = local_correlation_backward(
                grad.to(accumulation_dtype(f1.dtype)), f1, f2, d)
        return grad_f1.to(f1.dtype), grad_f2.to(f2.dtype), None, None, None, None, None


def _chain(f1: torch.Tensor, f2: torch.Tensor, d: int, sigma: float, temperature: float,
           mode: str, impl: str) -> torch.Tensor:
    """The forward: correlation, ReLU, (kernel-)soft-argmax; ``[N, 3, H, W]``."""
    corr = local_correlation(f1, f2, d, impl).relu_()  # [N, K, H, W], a new tensor
    displacement, confidence = kernel_soft_argmax(corr, d, sigma, temperature, mode)
    return torch.cat([displacement, confidence], dim=1)  # [N, 2 + 1, H, W]


def correlation_motion(f1: torch.Tensor, f2: torch.Tensor, max_displacement: int = 7,
                       sigma: float = 5.0, temperature: float = 100.0, mode: str = 'kernel',
                       impl: str = 'strided') -> torch.Tensor:
    """Displacement and confidence of ``kernel_soft_argmax(local_correlation(f1, f2).relu())``.

    The same values as the functions called in turn (the same computation
    runs), with a backward that keeps only ``f1`` and ``f2`` and recomputes
    the correlation, instead of keeping the chain's correlation-sized
    tensors. Eager autograd sees one op. While a graph is recorded, the
    chain's operators are recorded themselves (the same forward, called
    directly, with autograd's usual backward): a TorchScript trace (the
    TorchScript ONNX exporter, MMEngine's FLOP counter) would otherwise hold
    one opaque Python node, and ``torch.compile`` chooses what to keep for
    backward itself (torch 2.1's cannot trace this function's backward).

    Args:
        f1 (Tensor): Source features ``[N, C, H, W]`` (L2-normalised by the caller).
        f2 (Tensor): Target features ``[N, C, H, W]``.
        max_displacement (int): ``d``. Defaults to 7.
        sigma (float): Std of the Gaussian, in grid cells. Defaults to 5.0.
        temperature (float): Multiplies the logits. Defaults to 100.0.
        mode (str): ``'kernel'``, ``'plain'`` or ``'hard'``, as in
            :func:`~ms_plugin.ops.kernel_soft_argmax`. Defaults to ``'kernel'``.
        impl (str): The correlation's implementation, as in
            :func:`~ms_plugin.ops.local_correlation`. Defaults to ``'strided'``.

    Returns:
        Tensor: ``[N, 3, H, W]`` in the dtype of ``f1``: dx, dy (in units of
        ``d``) and the confidence.
    """
    if recording_a_graph():
        return _chain(f1, f2, max_displacement, sigma, temperature, mode, impl)
    return _CorrelationMotion.apply(f1, f2, max_displacement, sigma, temperature, mode, impl)


def correlation_soft_argmax(f1: torch.Tensor, f2: torch.Tensor, max_displacement: int = 7,
                            sigma: float = 5.0, temperature: float = 100.0,
                            mode: str = 'kernel',
                            impl: str = 'strided') -> Tuple[torch.Tensor, torch.Tensor]:
    """:func:`correlation_motion` as :func:`~ms_plugin.ops.kernel_soft_argmax` returns it.

    Returns:
        tuple[Tensor, Tensor]: displacement ``[N, 2, H, W]`` and confidence
        ``[N, 1, H, W]`` (views of one tensor).
    """
    motion = correlation_motion(f1, f2, max_displacement, sigma, temperature, mode, impl)
    return motion[:, :2], motion[:, 2:]  # [N, 3, H, W] -> [N, 2, H, W], [N, 1, H, W]
