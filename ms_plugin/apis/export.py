"""Export a config's recognizer to ONNX, and check the file against PyTorch.

The graph has one input, ``frames``: float32 ``[N, V*T, 3, H, W]``, RGB frames
0-255 as the config's test pipeline produces them (V views = clips x crops,
T frames per clip; N dynamic), and one output, ``scores``:
``[N, num_classes]``, equal to ``pred_score`` of ``model.test_step``
(:class:`~ms_plugin.deployment.WholeRecognizer`).

The model is built for the export: its MotionSqueeze modules compute the
correlation with ``correlation_impl='allpairs'`` (a matrix product and a
gather, which both ONNX exporters write; same values as training's
``'strided'``), chosen when the model is built.
"""
import time
from typing import Dict, NamedTuple, Optional, Sequence, Tuple

import torch
from mmengine.config import Config

from ..deployment import (WholeRecognizer, export_onnx, max_relative_error, ort_session,
                          reference_scores, run_onnx)
from ..utils.errors import InputError
from .inference import build_recognizer, config_test_pipeline, views_and_size

__all__ = ['EXPORT_CORRELATION', 'ExportResult', 'export_recognizer', 'onnx_errors',
           'sample_shape']

EXPORT_CORRELATION = 'allpairs'


class ExportResult(NamedTuple):
    """What :func:`export_recognizer` wrote and the model it wrote it from."""
    model: torch.nn.Module
    shape: Tuple[int, int, int]
    dynamo: bool
    seconds: float


def sample_shape(cfg: Config, shape: Optional[Sequence[int]] = None) -> Tuple[int, int, int]:
    """``(V*T, H, W)`` of one sample: ``shape`` if given, else what the test pipeline makes.

    Raises:
        InputError: If the pipeline has no fixed-size crop and no shape is given.
    """
    if shape:
        return tuple(shape)
    frames, size = views_and_size(config_test_pipeline(cfg))
    if size is None:
        raise InputError('the test pipeline has no fixed-size crop, so the frame size depends '
                         'on the video; give it with --shape FRAMES HEIGHT WIDTH.')
    return (frames, ) + tuple(size)


def _random_frames(shape: Tuple[int, int, int], batch: int,
                   generator: torch.Generator) -> torch.Tensor:
    # [N, V*T, 3, H, W] pixel values 0-255
    frames, height, width = shape
    return torch.rand((batch, frames, 3, height, width), generator=generator) * 255


def export_recognizer(config: str, checkpoint: Optional[str], out: str, *,
                      shape: Optional[Sequence[int]] = None,
                      cfg_options: Optional[dict] = None,
                      dynamo: Optional[bool] = None,
                      opset: Optional[int] = None,
                      seed: int = 0) -> ExportResult:
    """Build ``config``'s recognizer for export and write it to ``out``.

    Args:
        config (str): The config file.
        checkpoint (str, optional): Its weights (None: random, with a warning).
        out (str): The ``.onnx`` file.
        shape (Sequence[int], optional): ``(V*T, H, W)``. Defaults to the
            test pipeline's.
        cfg_options (dict, optional): Overrides merged into the config.
        dynamo (bool, optional): The exporter (see
            :func:`~ms_plugin.deployment.export_onnx`). Defaults to None.
        opset (int, optional): ONNX opset. Defaults to None.
        seed (int): Seed of the example frames. Defaults to 0.

    Returns:
        ExportResult: The model (for :func:`onnx_errors`), the sample shape,
        which exporter wrote the file and how long it took.
    """
    model, cfg = build_recognizer(config, checkpoint, cfg_options=cfg_options,
                                  correlation_impl=EXPORT_CORRELATION)
    if getattr(model.data_preprocessor, 'format_shape', 'NCHW') != 'NCHW':
        raise InputError('only 2D recognizers (data_preprocessor.format_shape NCHW) are '
                         'exported; the ONNX input is [N, V*T, 3, H, W].')
    size = sample_shape(cfg, shape)
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    # An example batch of 2: an exporter can specialise a dimension of size 1.
    used_dynamo = export_onnx(WholeRecognizer(model), _random_frames(size, 2, generator), out,
                              dynamo=dynamo, opset=opset)
    return ExportResult(model, size, used_dynamo, time.perf_counter() - start)


def onnx_errors(model: torch.nn.Module, path: str, shape: Tuple[int, int, int],
                batches: Sequence[int] = (1, 3), threads: Optional[int] = None,
                seed: int = 0) -> Dict[int, float]:
    """Largest error of the ONNX file in ONNX Runtime relative to ``model.test_step``.

    Args:
        model (nn.Module): The recognizer the file was exported from.
        path (str): The ``.onnx`` file.
        shape (tuple): ``(V*T, H, W)`` of one sample.
        batches (Sequence[int]): Batch sizes to check. Defaults to (1, 3).
        threads (int, optional): ONNX Runtime intra-op threads.
        seed (int): Seed of the random frames. Defaults to 0.

    Returns:
        dict[int, float]: Batch size -> ``max |onnx - torch| / max |torch|``.
    """
    session = ort_session(path, threads)
    generator = torch.Generator().manual_seed(seed + 1)
    errors = {}
    for batch in batches:
        inputs = _random_frames(shape, batch, generator)
        expected = reference_scores(model, inputs).numpy()
        errors[batch] = max_relative_error(run_onnx(session, inputs.numpy()), expected)
    return errors
