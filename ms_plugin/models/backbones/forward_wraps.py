"""Code run before or after a module's own ``forward``, without hooks.

Forward hooks would do, but ``torch.compile`` on torch 2.1 inlines a
submodule's ``forward`` and skips its hooks: a compiled backbone would run
without its MS modules (and a timm one without its temporal shift), with no
error. So the module's ``forward`` is replaced, on that one instance, by a
``functools.partial`` that calls its class's ``forward`` and the added code;
every tracer (Dynamo, TorchScript, ONNX, FLOP counters) sees plain calls.
The module keeps its class, children and state-dict keys, and it copies,
pickles and moves across devices as before.
"""
import functools
from typing import Callable

import torch
import torch.nn as nn

__all__ = ['run_after_forward', 'run_before_forward']


def _then(module: nn.Module, fn: Callable, *args, **kwargs):
    return fn(type(module).forward(module, *args, **kwargs))


def _first(module: nn.Module, fn: Callable, x: torch.Tensor, *args, **kwargs):
    return type(module).forward(module, fn(x), *args, **kwargs)


def _check_unwrapped(module: nn.Module) -> None:
    if 'forward' in vars(module):
        raise RuntimeError(f'{type(module).__name__} already runs code around its forward; '
                           'wrap each module once.')


def run_after_forward(module: nn.Module, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """From now on ``module(*args)`` returns ``fn(type(module).forward(module, *args))``.

    Args:
        module (nn.Module): Changed in place (its ``forward`` attribute).
        fn (callable): Takes and returns the output; picklable (a
            module-level function, a bound method or a ``functools.partial``).
    """
    _check_unwrapped(module)
    module.forward = functools.partial(_then, module, fn)


def run_before_forward(module: nn.Module, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """From now on ``module(x, *args)`` runs ``type(module).forward(module, fn(x), *args)``.

    Args:
        module (nn.Module): Changed in place (its ``forward`` attribute).
        fn (callable): Takes and returns the first input; picklable.
    """
    _check_unwrapped(module)
    module.forward = functools.partial(_first, module, fn)
