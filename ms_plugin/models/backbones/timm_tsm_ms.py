"""``TimmTSM_MS``: any timm CNN as a TSM backbone with MotionSqueeze modules."""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import timm
import torch
import torch.nn as nn
from mmaction.registry import MODELS
from mmengine.logging import print_log
from mmengine.model import BaseModule
from mmengine.utils.dl_utils.parrots_wrapper import _BatchNorm
from timm.models import load_state_dict as timm_load_state_dict

from .ms_mixin import MotionSqueezeMixin, StageSpec, check_stage_indices
from .timm_shift import add_temporal_shift

__all__ = ['TimmTSM_MS']

# The paper's MS position: after res3, the first stage at 1/8 of the input size.
_DEFAULT_MS_REDUCTION = 8


@MODELS.register_module()
class TimmTSM_MS(MotionSqueezeMixin, BaseModule):
    """A timm CNN turned into a TSM backbone with MotionSqueeze (MS) modules.

    The timm model is built with ``pretrained=False`` (no download) and cut
    after stage ``out_stage`` with timm's ``prune_intermediate_layers``; its
    stages are the entries of timm's ``feature_info`` (each with ``num_chs``,
    ``reduction`` and ``module``). Nothing is renamed: the timm model is the
    attribute ``model``, so its keys are ``model.<timm key>``.

    - ``shift=True`` adds TSM's zero-padded temporal shift in front of the
      first convolution of every block that timm's ``group_matcher`` names
      (the residual branch, MMAction2's ``shift_place='blockres'``); the stem
      is not shifted.
    - An MS module ``ms_stage{i}`` (channels ``feature_info[i]['num_chs']``)
      is applied to the output of every stage ``i`` in ``ms_stages``; the next
      stage receives input + motion features. ``with_cp`` recomputes the MS
      modules in the backward pass.

    Both run around timm's modules (not as hooks), so any model that timm builds
    with ``feature_info``, ``forward_intermediates`` and ``group_matcher``
    works (ResNets, MobileNetV3, EfficientNets, ConvNeXts, RegNets, ...).
    timm's gradient checkpointing (``set_grad_checkpointing``) is refused:
    it calls the stages' children directly and would skip the MS modules.

    Args:
        model_name (str): A timm model name, e.g. ``'mobilenetv3_large_100'``.
        num_segments (int): Frames T per clip. Defaults to 8.
        ms_stages (int | Sequence[int], optional): Indices into
            ``feature_info`` of the stages followed by an MS module (negative
            counts from the end; an int ``i`` is ``(i, )``; empty for plain
            TSM). Defaults to None: the first stage with ``reduction == 8``,
            the res3 position of the paper (index 2 for ResNets, MobileNetV3,
            EfficientNets and RegNets, 1 for ConvNeXt).
        ms_cfg (dict): Extra keyword arguments of
            :class:`~ms_plugin.models.MotionSqueeze` (``max_displacement``,
            ``soft_argmax``, ``type`` for a registered variant, ...).
            ``in_channels`` and ``num_segments`` are set per stage by the
            backbone. Defaults to ``dict()``.
        shift (bool): Add the temporal shift to every block. Defaults to True.
        shift_div (int): 1/shift_div of the channels move each way.
            Defaults to 8.
        pretrained (str, optional): Path of a local state_dict of this timm
            model (or of a torchvision model with the same key names, e.g.
            ResNets), loaded by :meth:`init_weights` with ``strict=False``.
            Defaults to None (timm's random init).
        out_stage (int): Index into ``feature_info`` of the stage whose output
            :meth:`forward` returns; later stages and the classifier are
            removed. Defaults to -1 (the last stage).
        norm_eval (bool): Keep every BatchNorm of the backbone (MS modules
            included) in eval mode during training. LayerNorm models
            (ConvNeXt) have nothing to freeze. Defaults to False.
        frozen_stages (int): Freeze (eval mode, no gradient) every timm layer
            up to and including stage ``feature_info[frozen_stages]`` (stem
            included); MS modules stay trainable. Defaults to -1 (none).
        with_cp (bool): Recompute the MS modules in the backward pass
            instead of storing their activations (timm's own
            ``set_grad_checkpointing`` is refused). Defaults to False.
        init_cfg (dict, optional): MMEngine init config. Defaults to None.
    """

    def __init__(self,
                 model_name: str,
                 num_segments: int = 8,
                 ms_stages: Union[None, int, Sequence[int]] = None,
                 ms_cfg: Dict = dict(),
                 shift: bool = True,
                 shift_div: int = 8,
                 pretrained: Optional[str] = None,
                 out_stage: int = -1,
                 norm_eval: bool = False,
                 frozen_stages: int = -1,
                 with_cp: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.model_name = model_name
        self.num_segments = num_segments
        self.pretrained = pretrained
        self.norm_eval = norm_eval
        self.with_cp = with_cp

        self.model = self._create_model(model_name)
        all_stages = [dict(f) for f in self.model.feature_info]
        self.out_stage = check_stage_indices(out_stage, len(all_stages), 'out_stage')[0]
        self.feature_info = all_stages[:self.out_stage + 1]
        # Output channels; MSNet sets the head's in_channels from it.
        self.feat_dim = self.feature_info[-1]['num_chs']
        # Drop what follows out_stage (later stages, final norm, classifier).
        self.model.prune_intermediate_layers([self.out_stage], prune_norm=True, prune_head=True)
        head = getattr(self.model, 'head', None)
        if isinstance(head, nn.Module) and any(True for _ in head.parameters()):
            # forward_intermediates never runs the classifier head; timm 1.0.31
            # prunes all of it, timm <= 1.0.30 keeps ConvNeXt's head norm, whose
            # parameters would then get no gradient. The same keys either way.
            self.model.head = nn.Identity()

        self.build_motion_squeeze(self._default_ms_stages() if ms_stages is None else ms_stages,
                                  ms_cfg)
        self.shift = shift
        self.shift_div = shift_div
        self.shifted_blocks = (add_temporal_shift(self.model, model_name, num_segments, shift_div)
                               if shift else [])
        self.frozen_stages = (-1 if frozen_stages < 0 else check_stage_indices(
            frozen_stages, len(self.feature_info), 'frozen_stages')[0])
        self._freeze_stages()

    # ------------------------------------------------------------ structure
    @staticmethod
    def _create_model(model_name: str) -> nn.Module:
        if not timm.is_model(model_name):
            similar = timm.list_models(f'*{model_name.split("_")[0]}*')[:8]
            raise ValueError(
                f'timm has no model named {model_name!r} (timm {timm.__version__}). '
                f'Similar names: {similar or "none"}; `timm.list_models()` lists them all.')
        model = timm.create_model(model_name, pretrained=False)
        missing = [attr for attr in ('feature_info', 'forward_intermediates',
                                     'prune_intermediate_layers') if not hasattr(model, attr)]
        if missing or not model.feature_info:
            raise ValueError(
                f'timm model {model_name!r} does not expose its stages ({missing or "empty"} '
                f'feature_info) in timm {timm.__version__}; TimmTSM_MS needs a CNN with '
                'feature_info and forward_intermediates, e.g. resnet50, '
                'mobilenetv3_large_100, efficientnet_b0, convnext_tiny, regnety_016.')
        return model

    def stage_specs(self) -> List[StageSpec]:
        """timm's ``feature_info`` up to ``out_stage``: stage ``i`` is named
        ``stage{i}`` (its module, e.g. ``blocks.2``, is a dotted path), with
        ``num_chs`` channels and every frame."""
        return [StageSpec(f'stage{i}', f'model.{info["module"]}', info['num_chs'],
                          self.num_segments) for i, info in enumerate(self.feature_info)]

    def _default_ms_stages(self) -> int:
        """The first stage at 1/8 of the input size."""
        reductions = [f['reduction'] for f in self.feature_info]
        if _DEFAULT_MS_REDUCTION not in reductions:
            raise ValueError(
                f'{self.model_name} has no stage of reduction {_DEFAULT_MS_REDUCTION} up to '
                f'out_stage (reductions {reductions}); pass ms_stages explicitly.')
        return reductions.index(_DEFAULT_MS_REDUCTION)

    # ------------------------------------------------------------ weights
    def init_weights(self) -> None:
        """Load ``pretrained`` into the timm model (if set); init the MS modules.

        Without ``pretrained`` the timm model keeps the init timm gave it.
        """
        self.init_ms_weights()
        if self.pretrained:
            self.load_pretrained(self.pretrained)

    def load_pretrained(self, path: str) -> Tuple[List[str], List[str]]:
        """Load a timm (or same-named torchvision) state_dict with strict=False.

        Args:
            path (str): A local file saved with ``torch.save(state_dict)``
                (or ``.safetensors``); read by timm's ``load_state_dict``, so
                a dict holding it under ``state_dict`` or ``model`` and
                ``module.`` / ``_orig_mod.`` prefixes (DataParallel,
                ``torch.compile``) are accepted.

        Returns:
            tuple[list[str], list[str]]: Keys of this backbone left missing
            (the MS modules' and any the file lacks) and keys of the file that
            were not used (e.g. the classifier, removed here).
        """
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'pretrained file {path!r} not found. TimmTSM_MS loads local files only; on a '
                f'machine with internet access run: python -c "import timm, torch; '
                f'torch.save(timm.create_model({self.model_name!r}, pretrained=True)'
                f'.state_dict(), {osp.basename(path)!r})" and copy the file to {path!r}.')
        state = timm_load_state_dict(path, use_ema=False)
        own = self.model.state_dict()
        matched = [k for k in state if k in own]
        if not matched:
            raise ValueError(
                f'No key of {path} matches timm model {self.model_name!r} (file keys such as '
                f'{list(state)[:3]}); save it with `torch.save(timm.create_model('
                f'{self.model_name!r}, pretrained=True).state_dict(), PATH)`.')
        bad_shapes = [f'{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}'
                      for k in matched if state[k].shape != own[k].shape]
        if bad_shapes:
            raise ValueError(f'{path} does not fit timm model {self.model_name!r}; shape '
                             f'mismatches: {bad_shapes[:5]}. Is it a state_dict of this model?')
        result = self.model.load_state_dict(state, strict=False)
        ms_prefixes = tuple(f'{name}.' for name, _ in self.ms_modules())
        ms_keys = [k for k in self.state_dict() if k.startswith(ms_prefixes)]
        missing = [f'model.{k}' for k in result.missing_keys] + ms_keys
        print_log(f'TimmTSM_MS: loaded {len(matched)} tensors of {self.model_name} from {path}; '
                  f'MS modules keep their init ({len(ms_keys)} keys); other missing keys: '
                  f'{result.missing_keys}; unused keys of the file: {result.unexpected_keys}',
                  logger='current')
        return missing, list(result.unexpected_keys)

    # ------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Frames in, features of stage ``out_stage`` (after its MS module) out.

        Args:
            x (Tensor): ``[N*T, 3, H, W]`` frames, clip-major.

        Returns:
            Tensor: ``[N*T, C, H / r, W / r]`` with ``C, r`` the ``num_chs`` and
            ``reduction`` of ``feature_info[out_stage]``.
        """
        if x.dim() != 4 or x.shape[0] % self.num_segments != 0:
            raise ValueError(
                f'TimmTSM_MS expects frames [N*T, C, H, W] with the batch a multiple of '
                f'num_segments={self.num_segments}; got shape {tuple(x.shape)}. Check '
                "num_segments against the pipeline's clip_len * num_clips.")
        if getattr(self.model, 'grad_checkpointing', False):
            raise RuntimeError('timm gradient checkpointing skips the MS modules of the stages; '
                               'call model.set_grad_checkpointing(False).')
        return self.model.forward_intermediates(
            x, indices=[self.out_stage], stop_early=True, intermediates_only=True)[-1]

    # ------------------------------------------------------------ train mode
    def _frozen_modules(self) -> List[nn.Module]:
        """Every timm module run up to the end of stage ``frozen_stages``.

        timm registers the layers of these CNNs in the order they run, so the
        frozen part is every module before the stage's last descendant, except
        the stage's ancestors (the containers around later layers too).
        """
        if self.frozen_stages < 0:
            return []
        stage = self.feature_info[self.frozen_stages]['module']
        named = list(self.model.named_modules())
        names = [n for n, _ in named]
        last = max(i for i, n in enumerate(names) if n == stage or n.startswith(stage + '.'))
        return [m for n, m in named[:last + 1]
                if not (n == '' or stage.startswith(n + '.'))]

    def _freeze_stages(self) -> None:
        for module in self._frozen_modules():
            module.training = False
            for param in module.parameters(recurse=False):
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'TimmTSM_MS':
        """Set the mode, then keep frozen stages (and norms if ``norm_eval``) in eval."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        self.set_ms_norms_mode(mode, self.norm_eval)
        return self
