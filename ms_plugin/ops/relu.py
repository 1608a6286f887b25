"""``relu(y) + x`` in place in ``y``, keeping a one-byte mask for backward."""
import torch

from .tables import recording_a_graph

__all__ = ['relu_add_']


class _ReLUAdd(torch.autograd.Function):

    @staticmethod
    def forward(ctx, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        y.relu_()
        if ctx.needs_input_grad[0]:  # what backward keeps, as autograd keeps nothing without grad
            # relu's output is >= 0, so nonzero is positive (NaN stays True,
            # as autograd's ReLU passes the gradient at NaN).
            ctx.save_for_backward(y.bool())
        ctx.mark_dirty(y)
        return y.add_(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        if not ctx.needs_input_grad[0]:
            return None, grad
        positive, = ctx.saved_tensors
        # A float copy of the mask, multiplied in place: torch.where and mixed
        # dtype products with a bool mask take a slow path on the CPU (~10x).
        return positive.view(torch.uint8).to(grad.dtype).mul_(grad), grad


def relu_add_(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``y = torch.relu(y) + x``, in place, whose backward keeps 1 byte per element.

    The end of a residual branch: ``y`` is the branch's pre-activation (a
    tensor nothing else reads afterwards) and ``x`` the identity. Autograd's
    ReLU keeps its output for backward, and a sum makes a third tensor; here
    the sum is written into ``y`` and backward keeps only the boolean mask
    of the ReLU: a quarter of the memory in float32. If autograd kept ``y``
    for another node, backward raises autograd's in-place error rather than
    compute a wrong gradient. The values and gradients are those of
    ``torch.relu(y) + x``, which a TorchScript trace (ONNX export, FLOP
    counting) or ``torch.compile`` records itself (out of place) instead of
    the opaque Python node of a custom autograd function.

    Args:
        y (Tensor): The branch's pre-activation, overwritten.
        x (Tensor): The identity, the shape and dtype of ``y``.

    Returns:
        Tensor: ``y``, holding ``relu(y) + x``.
    """
    if recording_a_graph():
        return torch.relu(y) + x
    if y.dtype != x.dtype or y.shape != x.shape:
        raise ValueError(f'relu_add_ needs y and x of one shape and dtype; got {tuple(y.shape)} '
                         f'{y.dtype} and {tuple(x.shape)} {x.dtype}.')
    return _ReLUAdd.apply(y, x)
