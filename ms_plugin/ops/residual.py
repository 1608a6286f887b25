"""``relu(y) + x`` whose backward keeps the sign of ``y`` (1 byte) instead of ``relu(y)``."""
import torch

__all__ = ['relu_add']


class _ReLUAdd(torch.autograd.Function):

    @staticmethod
    def forward(ctx, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if y.requires_grad:  # nothing to keep when y takes no gradient
            ctx.save_for_backward(y > 0)  # NaN > 0 is False: no gradient, as torch.relu's
        return torch.relu(y).add_(x)  # the sum written into relu's new output

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        saved = ctx.saved_tensors  # read once: a checkpoint allows one unpack
        if not saved:  # y took no gradient, so nothing was kept
            return None, grad
        positive, = saved
        # A float copy of the mask, multiplied in place: on the CPU several
        # times faster than torch.where or masked_fill with the boolean mask.
        return positive.to(grad.dtype).mul_(grad), grad

    @staticmethod
    def symbolic(g, y, x):  # the TorchScript ONNX exporter: Relu, then Add
        return g.op('Add', g.op('Relu', y), x)


def relu_add(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``torch.relu(y) + x``, the end of a residual branch, with a lighter backward.

    Autograd's ReLU keeps its output (4 bytes a value in float32) for
    backward; this keeps the boolean ``y > 0`` (1 byte) and computes the
    same values and gradients. Eager mode, tracing, ``torch.compile`` and
    both ONNX exporters run this same function.

    Args:
        y (Tensor): The branch's pre-activation.
        x (Tensor): The identity, the shape and dtype of ``y``.

    Returns:
        Tensor: ``relu(y) + x``, a new tensor.
    """
    return _ReLUAdd.apply(y, x)
