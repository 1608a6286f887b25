"""FLOPs and parameters of a recognizer config: the whole model, backbone and head.

MMAction2's ``get_flops.py`` feeds ``extract_feat`` one frame, which a TSM
backbone cannot split into clips; :func:`count_flops` feeds one clip
(:func:`flops_input_shape`). Counting is MMEngine's ``FlopAnalyzer`` (fvcore's
rules): a FLOP is a multiply-add of a convolution, linear layer or matrix
product; element-wise ops count 0 and are listed as not counted. The MS
correlation is counted as the matrix products that compute it, and
:func:`correlation_by_definition` gives its ``(2d+1)^2 * C * H * W``
multiply-adds per frame pair for comparison.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.config import Config

from ..deployment.recognizer import WholeRecognizer
from ..models import MotionSqueeze, motion_squeeze_modules
from ..utils.errors import InputError
from .inference import build_recognizer, config_test_pipeline, one_view_pipeline, views_and_size

__all__ = ['correlation_by_definition', 'count_flops', 'flops_input_shape', 'flops_report']

DEFAULT_SIZE = (224, 224)
# The frame count when the backbone does not say (MSNet's default).
DEFAULT_SEGMENTS = 8
# Matrix products: what the MS module's correlation and soft-argmax expectation run as.
_MATMUL_OPS = ('bmm', 'matmul', 'einsum')
_PARTS = ('recognizer.backbone', 'recognizer.neck', 'recognizer.cls_head')


def flops_input_shape(cfg: Config, shape: Optional[Sequence[int]] = None) -> Tuple[int, ...]:
    """The input's shape from ``--shape`` (None, ``H W`` or a whole shape) and the config.

    ``H W`` gives one clip: ``num_segments`` frames for a 2D recognizer, and
    for a 3D one (``format_shape='NCTHW'``) one view of the test pipeline's
    ``clip_len`` frames.

    Raises:
        InputError: For a shape of another length.
    """
    shape = tuple(DEFAULT_SIZE if shape is None else shape)
    if len(shape) == 2 and (cfg.model.get('data_preprocessor') or {}).get(
            'format_shape') == 'NCTHW':
        frames, _ = views_and_size(one_view_pipeline(config_test_pipeline(cfg), 1))
        return (1, 1, 3, frames) + shape
    segments = cfg.model.get('backbone', {}).get('num_segments', DEFAULT_SEGMENTS)
    if len(shape) == 2:
        return (1, segments, 3) + shape
    if len(shape) in (5, 6):
        return shape
    raise InputError(f'--shape takes H W, N T C H W (2D) or N V C T H W (3D); got {shape}.')


def correlation_by_definition(model: nn.Module, inputs: torch.Tensor) -> Dict[str, int]:
    """Multiply-adds of each MS module's local correlation, by its definition."""
    sizes: Dict[str, Tuple[int, ...]] = {}
    hooks = [module.reduce.register_forward_hook(
        lambda mod, args, out, name=name: sizes.__setitem__(name, tuple(out.shape)))
        for name, module in model.named_modules() if isinstance(module, MotionSqueeze)]
    try:
        with torch.no_grad():
            model(inputs)
    finally:
        for hook in hooks:
            hook.remove()
    result = {}
    for name, (nt, c, h, w) in sizes.items():
        module = model.get_submodule(name)
        pairs = nt // module.num_segments * (module.num_segments - 1)
        result[name] = pairs * (2 * module.max_displacement + 1)**2 * c * h * w
    return result


def count_flops(config: Union[str, Config], shape: Optional[Sequence[int]] = None,
                cfg_options: Optional[dict] = None) -> Dict[str, object]:
    """Build ``config``'s model (random weights) and count for one input.

    Args:
        config (str | Config): The config.
        shape (Sequence[int], optional): See :func:`flops_input_shape`.
            Defaults to None (one clip of ``num_segments`` frames, 224x224).
        cfg_options (dict, optional): Overrides merged into the config.

    Returns:
        dict: ``flops`` (multiply-adds), ``params``, ``shape``; ``by_part``
        (backbone, neck, head), and for each MS module ``ms_flops``,
        ``ms_params``, ``ms_matmul`` (its matrix products) and
        ``correlation_definition``; ``not_counted`` (op -> count). A
        ``'fused'`` matching is counted as ``'strided'``, the same products
        (the counter does not see inside an autograd function).
    """
    recognizer, cfg = build_recognizer(config, cfg_options=cfg_options, warn_random=False)
    for ms in motion_squeeze_modules(recognizer).values():
        if ms.correlation_impl == 'fused':
            ms.correlation_impl = 'strided'
    shape = flops_input_shape(cfg, shape)
    if not hasattr(recognizer, 'extract_feat'):
        raise InputError(f'{type(recognizer).__name__} has no extract_feat; only '
                         'recognizers are counted.')
    model = WholeRecognizer(recognizer)
    inputs = torch.randn(shape)
    analyzer = FlopAnalyzer(model, (inputs, ))
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    by_module = analyzer.by_module()
    ms_names = [name for name, m in model.named_modules() if isinstance(m, MotionSqueeze)]
    return dict(
        shape=shape,
        flops=analyzer.total(),
        params=parameter_count(model)[''],
        by_part={name: by_module[name] for name in _PARTS if name in by_module},
        ms_flops={name: by_module[name] for name in ms_names},
        ms_params={name: parameter_count(model.get_submodule(name))[''] for name in ms_names},
        ms_matmul={name: sum(v for op, v in analyzer.by_operator(name).items()
                             if op in _MATMUL_OPS) for name in ms_names},
        correlation_definition=correlation_by_definition(model, inputs),
        not_counted=dict(analyzer.unsupported_ops()),
    )


def _g(value: float) -> str:
    return f'{value / 1e9:.3f} G'


def flops_report(result: Dict[str, object], config: str) -> str:
    """The lines ``tools/analysis/get_flops.py`` prints for :func:`count_flops`'s result."""
    lines = [f'config: {config}', f'input shape: {result["shape"]}',
             f'FLOPs: {_g(result["flops"])}  ({result["flops"]} multiply-adds)',
             f'params: {result["params"] / 1e6:.3f} M  ({result["params"]})']
    for part, flops in result['by_part'].items():
        lines.append(f'  {part.split(".", 1)[1]}: {_g(flops)}')
    for name, flops in result['ms_flops'].items():
        short = name.split('.', 1)[1]
        lines.append(
            f'  {short} (MotionSqueeze): {_g(flops)}, {result["ms_params"][name]} params; '
            f'its matrix products (correlation, expectation) {_g(result["ms_matmul"][name])}; '
            f'correlation by definition {_g(result["correlation_definition"][name])}')
    if result['not_counted']:
        ops = ', '.join(sorted(op.replace('aten::', '') for op in result['not_counted']))
        lines.append(f'not counted (element-wise or unsupported): {ops}')
    return '\n'.join(lines)
