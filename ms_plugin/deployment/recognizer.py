"""A recognizer as one tensor-in, tensor-out module, for export and inference.

MMAction2's ``model.test_step`` takes a dict of data samples; ONNX and other
runtimes take tensors. :class:`ExportableRecognizer` wraps a built 2D
recognizer so that its forward is ``frames -> scores`` with the same numbers
as ``test_step``'s ``pred_score``: the data preprocessor's normalisation, the
backbone, the neck if any, the head and the head's averaging of views all run
inside it.
"""
import copy
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['ExportableRecognizer', 'config_test_dataset', 'config_test_pipeline',
           'reference_scores', 'views_and_size']

# Values of ``cls_head.average_clips`` that ``BaseHead.average_clip`` accepts.
_AVERAGE_CLIPS = ('score', 'prob', None)
# Test-pipeline transforms that cut several crops from each frame.
_CROPS_PER_TRANSFORM = {'ThreeCrop': 3, 'TenCrop': 10}
# Test-pipeline transforms that cut one crop of ``crop_size``.
_SINGLE_CROP_TRANSFORMS = ('CenterCrop', 'ThreeCrop', 'TenCrop')


class ExportableRecognizer(nn.Module):
    """``frames -> scores`` around an MMAction2 2D recognizer.

    Input ``frames``: float32 ``[N, V*T, 3, H, W]``, RGB frames as the
    config's test pipeline produces them (0-255, before normalisation), V
    views (clips x crops) of T frames each, the views in the pipeline's order.
    Output ``scores``: ``[N, num_classes]``, equal to ``pred_score`` of
    ``recognizer.test_step`` for the same frames: normalised by the data
    preprocessor's ``mean``/``std`` (and ``to_rgb``), classified per view,
    and averaged over the views as ``cls_head.average_clips`` says
    (``'prob'``: softmax then mean, ``'score'``: mean of the logits, ``None``:
    the head's raw scores of the single view).

    The recognizer is put in eval mode and kept there (``train()`` does not
    change it). ``test_cfg.max_testing_views`` (which
    only splits the views into batches to save memory) is not applied: the
    scores do not change.

    Args:
        recognizer (nn.Module): A built ``Recognizer2D`` (or subclass, e.g.
            ``MSNet``) with an ``ActionDataPreprocessor`` of format ``NCHW``.

    Raises:
        ValueError: For recognizers whose test path this module does not
            reproduce (3D formats, ``fcn_test``, unknown ``average_clips``).
    """

    def __init__(self, recognizer: nn.Module) -> None:
        super().__init__()
        preprocessor = recognizer.data_preprocessor
        format_shape = getattr(preprocessor, 'format_shape', 'NCHW')
        if format_shape != 'NCHW':
            raise ValueError(f'data_preprocessor.format_shape={format_shape!r}: only 2D '
                             "recognizers ('NCHW') can be exported.")
        test_cfg = getattr(recognizer, 'test_cfg', None) or {}
        if test_cfg.get('fcn_test', False):
            raise ValueError('test_cfg.fcn_test=True is not supported by the export.')
        if not getattr(recognizer, 'with_cls_head', False):
            raise ValueError('The recognizer has no cls_head: there are no scores to export.')
        self.average_clips = recognizer.cls_head.average_clips
        if self.average_clips not in _AVERAGE_CLIPS:
            raise ValueError(f'cls_head.average_clips={self.average_clips!r}; '
                             f'expected one of {_AVERAGE_CLIPS}.')
        self.recognizer = recognizer
        self.to_rgb = bool(getattr(preprocessor, 'to_rgb', False))
        self.normalize = bool(getattr(preprocessor, '_enable_normalize', False))
        if self.normalize:
            # [3, 1, 1] in the preprocessor -> [1, 1, 3, 1, 1] for [N, V*T, 3, H, W]
            self.register_buffer('mean', preprocessor.mean.detach().float().view(1, 1, -1, 1, 1),
                                 persistent=False)
            self.register_buffer('std', preprocessor.std.detach().float().view(1, 1, -1, 1, 1),
                                 persistent=False)
        self.eval()

    def train(self, mode: bool = True) -> 'ExportableRecognizer':
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


def _pipeline_frames(step: Dict) -> int:
    clips = step.get('num_clips', 1) * (2 if step.get('twice_sample', False) else 1)
    return clips * step.get('clip_len', 1)


def views_and_size(pipeline: Sequence[Dict]) -> Tuple[int, Optional[Tuple[int, int]]]:
    """Frames per sample and crop size that a test pipeline produces.

    Args:
        pipeline (list[dict]): The config's test pipeline.

    Returns:
        tuple: ``(frames, (height, width))``: ``frames`` = V*T (clips x
        frames per clip x crops); the size is None when the pipeline has no
        crop of a fixed size (then it depends on the video).
    """
    frames, crops, size = 0, 1, None
    for step in pipeline:
        kind = str(step.get('type', '')).split('.')[-1]
        if kind.endswith('SampleFrames'):
            frames = _pipeline_frames(step)
        crops *= _CROPS_PER_TRANSFORM.get(kind, 1)
        if kind in _SINGLE_CROP_TRANSFORMS:
            crop = step.get('crop_size')
            # crop_size is an int or (w, h); size is (h, w)
            size = (crop, crop) if isinstance(crop, int) else (crop[1], crop[0])
        elif kind == 'Resize' and size is not None:
            size = None  # a resize after the crop: the size depends on it again
        if kind == 'Resize' and not step.get('keep_ratio', True):
            scale = step.get('scale')
            if isinstance(scale, (tuple, list)) and min(scale) > 0:
                size = (int(scale[1]), int(scale[0]))  # (w, h) -> (h, w)
    if frames == 0:
        warnings.warn('The test pipeline has no SampleFrames step; assuming 1 frame.')
        frames = 1
    return frames * crops, size


def config_test_dataset(cfg) -> Dict:
    """The config's test dataset (else its validation one), unwrapped from
    ``RepeatDataset`` and the like; an empty dict if there is neither."""
    for loader in ('test_dataloader', 'val_dataloader'):
        dataset = (cfg.get(loader) or {}).get('dataset')
        if dataset is not None:
            while 'pipeline' not in dataset and 'dataset' in dataset:
                dataset = dataset['dataset']
            return dataset
    return {}


def config_test_pipeline(cfg) -> List[Dict]:
    """A copy of the config's test pipeline: the test (else validation)
    dataset's, else ``test_pipeline`` or ``val_pipeline``."""
    pipeline = (config_test_dataset(cfg).get('pipeline') or cfg.get('test_pipeline')
                or cfg.get('val_pipeline'))
    if not pipeline:
        raise ValueError('The config has no test pipeline (test_dataloader.dataset.pipeline '
                         'or test_pipeline).')
    return copy.deepcopy(list(pipeline))


def reference_scores(recognizer: nn.Module, frames: torch.Tensor) -> torch.Tensor:
    """``pred_score`` of ``recognizer.test_step`` for a batch of pipeline frames.

    Args:
        recognizer (nn.Module): A built recognizer (in eval mode).
        frames (Tensor): ``[N, V*T, 3, H, W]``, as :class:`ExportableRecognizer`
            takes them.

    Returns:
        Tensor: ``[N, num_classes]``.
    """
    from mmaction.structures import ActionDataSample
    data = dict(inputs=list(frames), data_samples=[ActionDataSample() for _ in frames])
    with torch.no_grad():
        return torch.stack([sample.pred_score for sample in recognizer.test_step(data)])
