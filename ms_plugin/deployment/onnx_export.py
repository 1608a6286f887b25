"""ONNX export of a tensor-in, tensor-out module and its check in ONNX Runtime.

``onnx`` and ``onnxruntime`` (the ``[deploy]`` extra) are imported only by
the functions that need them, so that importing this module never fails.
"""
import contextlib
import inspect
import os
from typing import Iterator, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn

__all__ = ['dynamo_supported', 'export_onnx', 'onnx_input_shape', 'ort_session', 'run_onnx',
           'max_relative_error']

INPUT_NAME = 'frames'
OUTPUT_NAME = 'scores'
# The largest opset that the TorchScript exporter of torch 2.1 writes; the
# dynamo exporter picks its own.
TORCHSCRIPT_OPSET = 17


def dynamo_supported() -> bool:
    """Whether ``torch.onnx.export`` has the ``dynamo`` option (torch >= 2.5)
    and its dependency ``onnxscript`` is installed."""
    if 'dynamo' not in inspect.signature(torch.onnx.export).parameters:
        return False
    try:
        import onnxscript  # noqa: F401
    except ImportError:
        return False
    return True


def export_onnx(module: nn.Module,
                example: torch.Tensor,
                path: str,
                *,
                dynamo: Optional[bool] = None,
                dynamic_batch: bool = True,
                opset: Optional[int] = None,
                input_name: str = INPUT_NAME,
                output_name: str = OUTPUT_NAME,
                correlation_impl: str = 'allpairs') -> bool:
    """Export ``module(example)`` to one ONNX file, the batch dimension dynamic.

    Every MotionSqueeze module of ``module`` is exported with
    ``correlation_impl`` (by default ``'allpairs'``: a matrix product and a
    gather, which both exporters take; the default ``'strided'`` of training
    reads strided views that the TorchScript exporter cannot write) and set
    back afterwards. Both give the same values (``tests/test_ops.py``).

    Args:
        module (nn.Module): The module, in eval mode; one tensor in, one out.
        example (Tensor): An example input; dimension 0 is the batch.
        path (str): The ``.onnx`` file to write (weights inside it).
        dynamo (bool, optional): True: ``torch.export``-based exporter
            (torch >= 2.5, needs onnxscript). False: the TorchScript exporter
            (``dynamo=False``; the one torch 2.1 has and mmdeploy uses).
            None: the TorchScript exporter, and the dynamo one if that fails
            and is available. Defaults to None.
        dynamic_batch (bool): Whether dimension 0 is dynamic. Defaults to True.
        opset (int, optional): ONNX opset. Defaults to None (17 for the
            TorchScript exporter, the dynamo exporter's own default).
        input_name (str): The graph input's name. Defaults to ``'frames'``.
        output_name (str): The graph output's name. Defaults to ``'scores'``.
        correlation_impl (str): See above. Defaults to ``'allpairs'``.

    Returns:
        bool: Whether the dynamo exporter wrote the file.
    """
    with correlation_impl_of(module, correlation_impl):
        return _export_with_fallback(module, example, path, dynamo, dynamic_batch, opset,
                                     input_name, output_name)


@contextlib.contextmanager
def correlation_impl_of(module: nn.Module, impl: str) -> Iterator[None]:
    """Run every MotionSqueeze module of ``module`` with ``impl`` inside the block."""
    from ms_plugin.models import motion_squeeze_modules
    modules = list(motion_squeeze_modules(module).values())
    before = [m.correlation_impl for m in modules]
    for m in modules:
        m.correlation_impl = impl
    try:
        yield
    finally:
        for m, impl_before in zip(modules, before):
            m.correlation_impl = impl_before


def _export_with_fallback(module: nn.Module, example: torch.Tensor, path: str,
                          dynamo: Optional[bool], dynamic_batch: bool, opset: Optional[int],
                          input_name: str, output_name: str) -> bool:
    if dynamo is None:
        try:
            _export(module, example, path, False, dynamic_batch, opset, input_name, output_name)
            return False
        except Exception as err:  # the TorchScript exporter raises many types
            if not dynamo_supported():
                raise
            import warnings
            warnings.warn(f'The TorchScript ONNX exporter failed ({type(err).__name__}: '
                          f'{str(err).splitlines()[0] if str(err) else ""}); using the dynamo '
                          'exporter.')
            dynamo = True
    if dynamo and not dynamo_supported():
        raise RuntimeError(f'The dynamo ONNX exporter needs torch >= 2.5 and onnxscript '
                           f'(torch {torch.__version__} here); use dynamo=False.')
    _export(module, example, path, bool(dynamo), dynamic_batch, opset, input_name, output_name)
    return bool(dynamo)


def _export(module: nn.Module, example: torch.Tensor, path: str, dynamo: bool,
            dynamic_batch: bool, opset: Optional[int], input_name: str,
            output_name: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    kwargs = dict(input_names=[input_name], output_names=[output_name])
    if dynamo:
        kwargs.update(dynamo=True, external_data=False)
        if opset is not None:
            kwargs['opset_version'] = opset
        if dynamic_batch:
            batch = torch.export.Dim('batch')
            kwargs['dynamic_shapes'] = ({0: batch}, )
    else:
        if 'dynamo' in inspect.signature(torch.onnx.export).parameters:
            kwargs['dynamo'] = False
        kwargs.update(opset_version=opset or TORCHSCRIPT_OPSET, do_constant_folding=True)
        if dynamic_batch:
            kwargs['dynamic_axes'] = {input_name: {0: 'batch'}, output_name: {0: 'batch'}}
    with torch.no_grad():
        torch.onnx.export(module, (example, ), path, **kwargs)


def ort_session(path: str, threads: Optional[int] = None):
    """An ONNX Runtime CPU session of ``path`` (``threads`` intra-op threads)."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(path, sess_options=options, providers=['CPUExecutionProvider'])


def onnx_input_shape(session) -> Sequence[object]:
    """The input's shape as the file states it (a str for a dynamic dimension)."""
    return session.get_inputs()[0].shape


def run_onnx(session, inputs: np.ndarray) -> np.ndarray:
    """The first output of ``session`` for its one input."""
    name = session.get_inputs()[0].name
    return session.run(None, {name: np.ascontiguousarray(inputs, dtype=np.float32)})[0]


def max_relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """``max |actual - expected| / max |expected|``: the largest error relative
    to the output's scale (elementwise ratios blow up on near-zero scores)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise ValueError(f'shapes differ: {actual.shape} vs {expected.shape}')
    scale = np.abs(expected).max()
    return float(np.abs(actual - expected).max() / scale) if scale > 0 else float(
        np.abs(actual - expected).max())
