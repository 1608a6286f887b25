"""A recognizer as one tensor-in, tensor-out module: for export, FLOP counts and inference.

MMAction2's ``model.test_step`` takes a dict of data samples; ONNX, FLOP
counters and other runtimes take tensors. :class:`WholeRecognizer` wraps a
built recognizer so that its forward is ``frames -> scores`` with the same
numbers as ``test_step``'s ``pred_score``: the data preprocessor's
normalisation, the backbone, the neck if any, the head and the head's
averaging of views all run inside it.
"""
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmaction.structures import ActionDataSample

__all__ = ['WholeRecognizer', 'reference_scores']

# Values of ``cls_head.average_clips`` that ``BaseHead.average_clip`` accepts.
_AVERAGE_CLIPS = ('score', 'prob', None)
# Input layouts (data_preprocessor.format_shape) and the input's dimensions.
_INPUT_DIMS: Dict[str, int] = {'NCHW': 5, 'NCTHW': 6}


class WholeRecognizer(nn.Module):
    """``frames -> scores`` around an MMAction2 recognizer.

    Input ``frames``: float32, RGB as the config's test pipeline produces
    them (0-255, before normalisation), V views (clips x crops) in the
    pipeline's order: ``[N, V*T, 3, H, W]`` for a 2D recognizer (format
    ``NCHW``), ``[N, V, 3, T, H, W]`` for a 3D one (``NCTHW``).
    Output ``scores``: ``[N, num_classes]``, equal to ``pred_score`` of
    ``recognizer.test_step`` for the same frames: normalised by the data
    preprocessor's ``mean``/``std`` (and ``to_rgb``), classified per view,
    and averaged over the views as ``cls_head.average_clips`` says
    (``'prob'``: softmax then mean, ``'score'``: mean of the logits, ``None``:
    the head's raw scores of the single view). A recognizer without a head
    gives its features.

    The recognizer is put in eval mode and kept there (``train()`` does not
    change it). ``test_cfg.max_testing_views`` (which only splits the views
    into batches to save memory) is not applied: the scores do not change.

    Args:
        recognizer (nn.Module): A built ``Recognizer2D`` (or subclass, e.g.
            ``MSNet``) or ``Recognizer3D`` with an ``ActionDataPreprocessor``.

    Raises:
        ValueError: For recognizers whose test path this module does not
            reproduce (other formats, ``fcn_test``, unknown ``average_clips``).
    """

    def __init__(self, recognizer: nn.Module) -> None:
        super().__init__()
        preprocessor = recognizer.data_preprocessor
        self.format_shape = getattr(preprocessor, 'format_shape', 'NCHW')
        if self.format_shape not in _INPUT_DIMS:
            raise ValueError(f'data_preprocessor.format_shape={self.format_shape!r}: expected '
                             f'one of {tuple(_INPUT_DIMS)}.')
        test_cfg = getattr(recognizer, 'test_cfg', None) or {}
        if test_cfg.get('fcn_test', False):
            raise ValueError('test_cfg.fcn_test=True is not supported.')
        head = getattr(recognizer, 'cls_head', None)
        self.average_clips = getattr(head, 'average_clips', None)
        if self.average_clips not in _AVERAGE_CLIPS:
            raise ValueError(f'cls_head.average_clips={self.average_clips!r}; '
                             f'expected one of {_AVERAGE_CLIPS}.')
        self.recognizer = recognizer
        self.to_rgb = bool(getattr(preprocessor, 'to_rgb', False))
        self.normalize = bool(getattr(preprocessor, '_enable_normalize', False))
        if self.normalize:
            # [3, 1, 1] (2D) or [3, 1, 1, 1] (3D) in the preprocessor -> [1, 1, 3, 1, ...]
            # for the channel dimension 2 of the input.
            shape = (1, 1, -1) + (1, ) * (_INPUT_DIMS[self.format_shape] - 3)
            self.register_buffer('mean', preprocessor.mean.detach().float().view(shape),
                                 persistent=False)
            self.register_buffer('std', preprocessor.std.detach().float().view(shape),
                                 persistent=False)
        self.eval()

    def train(self, mode: bool = True) -> 'WholeRecognizer':
        """Stay in eval mode: exporters call ``train(was_training)`` after
        tracing, which would otherwise switch BatchNorm to batch statistics."""
        return super().train(False)

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """What ``ActionDataPreprocessor`` does to a stacked test batch."""
        if self.to_rgb:
            frames = frames.flip(2)  # swaps channels 0 and 2 of 3
        if self.normalize:
            return (frames - self.mean) / self.std
        return frames.float()

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        batch = frames.shape[0]
        inputs = self.preprocess(frames)
        # test_mode=False: the same features, without max_testing_views' split
        # (a Python loop over a data-dependent count, which would fix N in a trace).
        feats, head_kwargs = self.recognizer.extract_feat(inputs, test_mode=False)
        if getattr(self.recognizer, 'cls_head', None) is None:
            return feats
        # [N * views, num_classes]; views = V for TSM heads, 1 for TSN's consensus
        scores = self.recognizer.cls_head(feats, **head_kwargs)
        # [N * views, num_classes] -> [N, views, num_classes]
        scores = scores.reshape(batch, -1, scores.shape[-1])
        if self.average_clips == 'prob':
            return F.softmax(scores, dim=2).mean(dim=1)
        if self.average_clips == 'score':
            return scores.mean(dim=1)
        # None: BaseHead.average_clip returns the [N, views, C] scores unaveraged,
        # which is a [N, C] pred_score only for one view.
        return scores.squeeze(1)


def reference_scores(recognizer: nn.Module, frames: torch.Tensor) -> torch.Tensor:
    """``pred_score`` of ``recognizer.test_step`` for a batch of pipeline frames.

    Args:
        recognizer (nn.Module): A built recognizer (in eval mode).
        frames (Tensor): ``[N, V*T, 3, H, W]`` (or 3D clips), as
            :class:`WholeRecognizer` takes them.

    Returns:
        Tensor: ``[N, num_classes]``.
    """
    data = dict(inputs=list(frames), data_samples=[ActionDataSample() for _ in frames])
    with torch.no_grad():
        return torch.stack([sample.pred_score for sample in recognizer.test_step(data)])
