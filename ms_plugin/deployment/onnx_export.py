"""ONNX export of a tensor-in, tensor-out module and its check in ONNX Runtime.

``onnxruntime`` and ``onnxscript`` (the ``[deploy]`` extra) are optional: this
module imports without them, and the functions that need them say so.
"""
import importlib.util
import inspect
import os
import warnings
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn as nn

from ..models import motion_squeeze_modules

try:
    import onnxruntime
except ImportError:  # the [deploy] extra is not installed
    onnxruntime = None
# The dynamo exporter imports onnxscript itself (a second to import: not done here).
HAS_ONNXSCRIPT = importlib.util.find_spec('onnxscript') is not None

__all__ = ['dynamo_supported', 'export_onnx', 'onnx_input_shape', 'ort_session', 'run_onnx',
           'max_relative_error']

INPUT_NAME = 'frames'
OUTPUT_NAME = 'scores'
# The largest opset that the TorchScript exporter of torch 2.1 writes; the
# dynamo exporter picks its own.
TORCHSCRIPT_OPSET = 17
# Correlations (MotionSqueeze's correlation_impl) that the TorchScript exporter writes.
TORCHSCRIPT_CORRELATION_IMPLS = ('allpairs', )


def dynamo_supported() -> bool:
    """Whether ``torch.onnx.export`` has the ``dynamo`` option (torch >= 2.5)
    and its dependency ``onnxscript`` is installed."""
    return HAS_ONNXSCRIPT and 'dynamo' in inspect.signature(torch.onnx.export).parameters


def export_onnx(module: nn.Module,
                example: torch.Tensor,
                path: str,
                *,
                dynamo: Optional[bool] = None,
                dynamic_batch: bool = True,
                opset: Optional[int] = None,
                input_name: str = INPUT_NAME,
                output_name: str = OUTPUT_NAME) -> bool:
    """Export ``module(example)`` to one ONNX file, the batch dimension dynamic.

    The module is exported as it is. Its MotionSqueeze modules must have been
    built with ``correlation_impl='allpairs'`` (a matrix product and a gather,
    which both exporters take) unless the dynamo exporter is asked for: the
    ``'strided'`` default of training reads strided views that the
    TorchScript exporter cannot write. Both give the same values
    (``tests/test_ops.py``); build the model with
    ``ms_plugin.apis.build_recognizer(..., correlation_impl='allpairs')`` or
    the backbone's ``ms_cfg=dict(correlation_impl='allpairs')``.

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

    Returns:
        bool: Whether the dynamo exporter wrote the file.

    Raises:
        ValueError: If a MotionSqueeze module's correlation cannot be written
            by the TorchScript exporter (and ``dynamo`` is not True).
    """
    if not dynamo:
        _check_correlation_impl(module)
    return _export_with_fallback(module, example, path, dynamo, dynamic_batch, opset,
                                 input_name, output_name)


def _check_correlation_impl(module: nn.Module) -> None:
    """Refuse MotionSqueeze modules whose correlation the TorchScript exporter cannot write."""
    others = {name or type(module).__name__: ms.correlation_impl
              for name, ms in motion_squeeze_modules(module).items()
              if ms.correlation_impl not in TORCHSCRIPT_CORRELATION_IMPLS}
    if others:
        raise ValueError(
            f'MotionSqueeze modules {others} use a correlation the TorchScript ONNX exporter '
            f'cannot write; build the model for export with correlation_impl='
            f'{TORCHSCRIPT_CORRELATION_IMPLS[0]!r} (ms_plugin.apis.build_recognizer(..., '
            f"correlation_impl='allpairs') or the backbone's ms_cfg), or pass dynamo=True.")


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
    """An ONNX Runtime CPU session of ``path`` (``threads`` intra-op threads).

    Raises:
        ImportError: If onnxruntime is not installed.
    """
    if onnxruntime is None:
        raise ImportError('ONNX Runtime is not installed: pip install onnxruntime '
                          '(or the plugin\'s [deploy] extra).')
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(path, sess_options=options,
                                        providers=['CPUExecutionProvider'])


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
