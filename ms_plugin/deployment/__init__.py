"""Deployment: a recognizer as one ``frames -> scores`` module, its ONNX export and check.

Building a recognizer from a config and reading a video into a test clip are
in :mod:`ms_plugin.apis`; see ``docs/deploy.md``,
``tools/deployment/export_onnx.py`` and ``tools/inference.py``.
"""
from .onnx_export import (dynamo_supported, export_onnx, max_relative_error, onnx_input_shape,
                          ort_session, run_onnx)
from .recognizer import WholeRecognizer, reference_scores

__all__ = [
    'WholeRecognizer', 'dynamo_supported', 'export_onnx', 'max_relative_error',
    'onnx_input_shape', 'ort_session', 'reference_scores', 'run_onnx'
]
