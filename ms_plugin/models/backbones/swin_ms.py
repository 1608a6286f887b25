"""``SwinTransformer3D_MS``: MMAction2's Video Swin with MotionSqueeze modules."""
from typing import Dict, List, Sequence, Union

import torch
from mmaction.models.backbones.swin import SwinTransformer3D
from mmaction.registry import MODELS
from mmengine.model import BaseModule

from .ms_mixin import MotionSqueezeMixin, StageSpec

__all__ = ['SwinTransformer3D_MS']


@MODELS.register_module()
class SwinTransformer3D_MS(MotionSqueezeMixin, SwinTransformer3D):
    """Video Swin Transformer with a MotionSqueeze (MS) module after chosen stages.

    Stage ``i`` is ``layers.i`` and its MS module the attribute
    ``ms_stage{i}``. It takes the token map ``layers.i`` returns, ``[N, T, H,
    W, C]``, as clip-major frames ``[N*T, C, H, W]``; its output (input plus
    motion features) goes to ``norm{i}`` (if ``i`` is in ``out_indices``) and
    on into the patch merging and stage ``i + 1``. With the default
    ``out_after_downsample=False`` the module sits before stage ``i``'s patch
    merging, ``C = embed_dims * 2**i``; with True, after it. Every
    SwinTransformer3D key keeps its name.

    **T** is ``ceil(clip_len / patch_size[0])`` at every stage: the patch
    embedding is the only temporal downsampling (patch merging is spatial).
    Swin-T, 32 frames of 224x224, ``patch_size=(2, 4, 4)``: T=16 and 96 ch
    56x56, 192 ch 28x28 (default, res3's size), 384 ch 14x14, 768 ch 7x7.

    ``frozen_stages`` freezes ``patch_embed`` and ``layers`` as Swin does, never
    the MS modules. ``pretrained2d`` without ``pretrained`` initialises from
    scratch (SwinTransformer3D would load from None).

    Args:
        clip_len (int): Frames per clip at the input, the ``clip_len`` of the
            pipeline's ``SampleFrames``. Defaults to 32.
        ms_stages (int | Sequence[int]): 0-based indices of the stages followed
            by an MS module (negative from the end). Defaults to ``(1, )``.
        ms_cfg (dict): Extra keyword arguments of
            :class:`~ms_plugin.models.MotionSqueeze`, not ``in_channels`` or
            ``num_segments``. Defaults to ``dict()``.
        norm_eval (bool): Keep the MS modules' BatchNorms in eval mode (Swin's
            LayerNorms have no running statistics). Defaults to False.
        **kwargs: Every argument of :class:`mmaction.models.SwinTransformer3D`.
    """

    def __init__(self,
                 clip_len: int = 32,
                 ms_stages: Union[int, Sequence[int]] = (1, ),
                 ms_cfg: Dict = dict(),
                 norm_eval: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.clip_len, self.norm_eval = clip_len, norm_eval
        self.with_cp = kwargs.get('with_cp', False)
        self.build_motion_squeeze(ms_stages, ms_cfg)

    def stage_specs(self) -> List[StageSpec]:
        """``layers.0..3`` as ``stage0..3``: channels ``num_features[i]``, one T."""
        frames = -(-self.clip_len // self.patch_size[0])
        return [StageSpec(f'stage{i}', f'layers.{i}', self.num_features[i], frames)
                for i in range(self.num_layers)]

    def frames_origin(self) -> str:
        """Where T comes from, for error messages."""
        return f'clip_len={self.clip_len} / patch_size[0]={self.patch_size[0]}, rounded up'

    def after_stage(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """A stage's ``[N, T, H, W, C]`` tokens through MS module ``name``."""
        out = super().after_stage(name, x.permute(0, 4, 1, 2, 3))  # -> [N, C, T, H, W]
        return out.permute(0, 2, 3, 4, 1)  # [N, C, T, H, W] -> [N, T, H, W, C]

    def init_weights(self) -> None:
        """The MS modules' own init, then Swin's (inflation, a checkpoint or from scratch)."""
        self.init_ms_weights()
        if self.pretrained2d and not self.pretrained:
            BaseModule.init_weights(self)
        else:
            super().init_weights()
