"""Deployment: a recognizer as ``frames -> scores``, its ONNX export and check,
and a config's test pipeline on a video file or a folder of frames.

See ``docs/deploy.md``, ``tools/deployment/export_onnx.py`` and
``tools/inference.py``.
"""
from .build import RandomWeightsWarning, build_recognizer
from .onnx_export import (dynamo_supported, export_onnx, max_relative_error, onnx_input_shape,
                          ort_session, run_onnx)
from ..utils.checkpoint import load_weights
from .recognizer import (ExportableRecognizer, config_test_dataset, config_test_pipeline,
                         reference_scores, views_and_size)
from .video import VideoError, pipeline_frames, read_frame_folder

__all__ = [
    'ExportableRecognizer', 'RandomWeightsWarning', 'VideoError', 'build_recognizer',
    'dynamo_supported', 'export_onnx', 'load_weights', 'max_relative_error',
    'onnx_input_shape', 'ort_session', 'pipeline_frames', 'read_frame_folder', 'run_onnx',
    'config_test_dataset', 'config_test_pipeline', 'reference_scores', 'views_and_size'
]
