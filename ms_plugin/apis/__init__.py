"""What users call from Python, as ``mmaction.apis``: build, read, score, look, export.

* :mod:`.inference`: a config's recognizer with a checkpoint loaded strictly
  (:func:`build_recognizer`), a video or frame folder as a test clip
  (:func:`load_clip`), its class scores (:func:`video_scores`);
* :mod:`.motion`: the motion maps a model's MotionSqueeze modules compute on
  a clip, their figure and animation;
* :mod:`.export`: the ONNX export of a recognizer, checked in ONNX Runtime;
* :mod:`.flops`: FLOPs and parameters of a config's model.
"""
from .export import export_recognizer, onnx_errors
from .flops import count_flops, flops_report
from .inference import (Clip, RandomWeightsWarning, build_recognizer, config_test_pipeline,
                        load_clip, load_config, video_scores)
from .motion import (ClipMotion, clip_motion, render_motion, save_motion, video_motion,
                     write_motion)

__all__ = [
    'Clip', 'ClipMotion', 'RandomWeightsWarning', 'build_recognizer', 'clip_motion',
    'config_test_pipeline', 'count_flops', 'export_recognizer', 'flops_report', 'load_clip',
    'load_config', 'onnx_errors', 'render_motion', 'save_motion', 'video_motion',
    'video_scores', 'write_motion'
]
