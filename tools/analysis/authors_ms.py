"""The authors' MS module, loaded at run time from a copy of their repository, for comparisons.

``tools/analysis/benchmark_ms.py --reference-repo PATH`` times it against
:class:`~ms_plugin.models.MotionSqueeze` on the same features. Nothing of
the authors' code is part of this package: :func:`load_authors_ms` reads
``resnet_TSM.py`` from ``PATH`` (a clone of github arunos728/MotionSqueeze)
when called. Their file imports ``spatial_correlation_sampler``, a CUDA
extension that does not build against current torch; it is replaced by a
stub, and the pure-matrix-product matching layer of the same file
(``Matching_layer_mm``) is used instead, their fastest variant that runs
without it. Their device strings (``'cuda'``) are pointed at the requested
device while the file is read.
"""
import sys
import types
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

__all__ = ['load_authors_ms', 'copy_weights_to_authors']


def _stub_correlation_package() -> types.ModuleType:
    stub = types.ModuleType('spatial_correlation_sampler')

    class SpatialCorrelationSampler(nn.Module):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__()

        def forward(self, *args):
            raise RuntimeError('spatial_correlation_sampler is a stub here: use Matching_layer_mm')
    stub.SpatialCorrelationSampler = SpatialCorrelationSampler
    return stub


def load_authors_ms(repo: str, num_segments: int = 8, device: str = 'cpu',
                    temperature: float = 100.0) -> nn.Module:
    """Build the authors' R50 with MS from ``repo/resnet_TSM.py``; return its MS part.

    Args:
        repo (str): A clone of github arunos728/MotionSqueeze.
        num_segments (int): Frames per clip. Defaults to 8.
        device (str): Where their code creates its tensors. Defaults to ``'cpu'``.
        temperature (float): Their softmax temperature (their training scripts': 100).

    Returns:
        nn.Module: ``x -> x + refinement(motion(x))`` for ``[N*T, 512, H, W]``
        features, holding their ``chnl_reduction``, ``matching_layer``
        (``Matching_layer_mm``) and ``flow_refinement`` as submodules.
    """
    path = Path(repo) / 'resnet_TSM.py'
    source = path.read_text().replace("'cuda'", '_DEVICE')
    module = types.ModuleType('authors_resnet_TSM')
    module.__file__ = str(path)
    module._DEVICE = device
    sys.modules.setdefault('spatial_correlation_sampler', _stub_correlation_package())
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))  # their tsm_util
    exec(compile(source, str(path), 'exec'), module.__dict__)
    resnet = module.ResNet(module.Bottleneck, module.Bottleneck, [3, 4, 6, 3],
                           num_segments=num_segments, flow_estimation=1)
    resnet.matching_layer = module.Matching_layer_mm(patch=resnet.patch)
    return _AuthorsMS(resnet, temperature).to(device)


class _AuthorsMS(nn.Module):
    """The MS steps of the authors' ``ResNet.forward``, without the rest of their ResNet."""

    def __init__(self, resnet: nn.Module, temperature: float) -> None:
        super().__init__()
        self.chnl_reduction = resnet.chnl_reduction
        self.matching_layer = resnet.matching_layer
        self.flow_refinement = resnet.flow_refinement
        self.soft_argmax = resnet.soft_argmax
        # Their flow_computation and match_to_flow_soft, bound to this module.
        self._flow: Callable = type(resnet).flow_computation.__get__(self)
        for name in ('match_to_flow_soft', 'apply_gaussian_kernel', 'L2normalize'):
            setattr(self, name, getattr(type(resnet), name).__get__(self))
        self.num_segments = resnet.num_segments
        self.patch, self.patch_dilation = resnet.patch, resnet.patch_dilation
        self.temperature = temperature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flow, confidence = self._flow(x, temperature=self.temperature)
        return self.flow_refinement(flow, x, confidence)


def copy_weights_to_authors(ours: nn.Module, theirs: nn.Module) -> None:
    """Load a :class:`~ms_plugin.models.MotionSqueeze`'s weights into :func:`load_authors_ms`'s."""
    state = {}
    for key, value in ours.state_dict().items():
        # reduce.{conv,bn}.* -> chnl_reduction.{0,1}.*
        key = key.replace('reduce.conv.', 'chnl_reduction.0.')
        key = key.replace('reduce.bn.', 'chnl_reduction.1.')
        if key.startswith('transform.'):
            # transform.i.{depthwise,pointwise}.{conv,bn} -> flow_refinement.conv{i+1}.{0,1,3,4}
            _, i, part, layer, rest = key.split('.', 4)
            index = {('depthwise', 'conv'): 0, ('depthwise', 'bn'): 1,
                     ('pointwise', 'conv'): 3, ('pointwise', 'bn'): 4}[(part, layer)]
            key = f'flow_refinement.conv{int(i) + 1}.{index}.{rest}'
        state[key] = value
    theirs.load_state_dict(state, strict=True)
