"""FLOPs and parameters of a recognizer config, the whole model (backbone and head).

MMAction2's ``tools/analysis_tools/get_flops.py`` feeds ``extract_feat`` a
single frame ``(1, 1, 3, H, W)``, which a TSM backbone cannot reshape into
clips of ``num_segments`` frames. This tool feeds a whole clip: for a 2D
recognizer (TSM, MSNet) the input is ``N x T x C x H x W`` with ``T`` frames
(views x segments), by default one clip of ``num_segments`` frames at 224x224.

Counting is MMEngine's (``mmengine.analysis.FlopAnalyzer``, fvcore's rules):
one FLOP is one multiply-add of a convolution, linear layer or matrix product
(``bmm``, ``matmul``, ``einsum``), batch norm counts 1 or 2 per element,
adaptive average pooling 1 per element; element-wise ops (ReLU, softmax, exp,
the Gaussian of the soft-argmax) count 0 and are listed as not counted.
MotionSqueeze's correlation is a matrix product, so it is counted as it runs;
the tool also prints what the correlation costs by its definition,
``(2d+1)^2 * C * H * W`` multiply-adds per frame pair, for comparison.

Examples::

    python tools/analysis/get_flops.py configs/msnet_r50_sthv1.py
    python tools/analysis/get_flops.py configs/msnet_r50_sthv1.py --shape 1 16 3 224 224 \\
        --cfg-options model.backbone.num_segments=16
"""
import argparse
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

import ms_plugin  # noqa: F401  (registers the plugin's models)
from mmaction.registry import MODELS
from ms_plugin.models import MotionSqueeze


class WholeRecognizer(nn.Module):
    """``extract_feat`` then the head: what a test step computes, as one module.

    Args:
        recognizer (nn.Module): A built MMAction2 recognizer.
    """

    def __init__(self, recognizer: nn.Module) -> None:
        super().__init__()
        self.recognizer = recognizer

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        feats, head_kwargs = self.recognizer.extract_feat(inputs)
        head = getattr(self.recognizer, 'cls_head', None)
        return feats if head is None else head(feats, **head_kwargs)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='FLOPs and parameters of a recognizer (backbone and head) for one input.')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--shape', type=int, nargs='+', metavar='DIM',
        help='input shape. 2D recognizers (TSM, MSNet): N T C H W, T = views x segments; '
        'H W alone means 1 x num_segments x 3 x H x W. 3D recognizers: N V C T H W. '
        'Defaults to 1 num_segments 3 224 224')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default={},
        help='override config entries, e.g. model.backbone.num_segments=16')
    return parser.parse_args(argv)


def input_shape(cfg: Config, shape: Optional[Sequence[int]]) -> Tuple[int, ...]:
    """The input tensor's shape from ``--shape`` and the config."""
    segments = cfg.model.get('backbone', {}).get('num_segments', 8)
    if shape is None:
        shape = (224, 224)
    shape = tuple(shape)
    if len(shape) == 2:
        return (1, segments, 3) + shape
    if len(shape) in (5, 6):
        return shape
    raise SystemExit(f'error: --shape takes H W, N T C H W (2D) or N V C T H W (3D); got {shape}.')


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


def analyse(cfg: Config, shape: Tuple[int, ...]) -> Dict[str, object]:
    """Build the model of ``cfg`` and count for one input of ``shape``."""
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    recognizer = MODELS.build(cfg.model)
    if not hasattr(recognizer, 'extract_feat'):
        raise SystemExit(f'error: {type(recognizer).__name__} has no extract_feat; '
                         'this tool counts recognizers.')
    model = WholeRecognizer(recognizer).eval()
    inputs = torch.randn(shape)
    analyzer = FlopAnalyzer(model, (inputs, ))
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    by_module = analyzer.by_module()
    ms_names = [name for name, m in model.named_modules() if isinstance(m, MotionSqueeze)]
    return dict(
        flops=analyzer.total(),
        params=parameter_count(model)[''],
        by_part={name: by_module[name]
                 for name in ('recognizer.backbone', 'recognizer.neck', 'recognizer.cls_head')
                 if name in by_module},
        ms_flops={name: by_module[name] for name in ms_names},
        ms_params={name: parameter_count(model.get_submodule(name))[''] for name in ms_names},
        ms_matmul={name: sum(v for op, v in analyzer.by_operator(name).items()
                             if op in ('bmm', 'matmul', 'einsum')) for name in ms_names},
        correlation_definition=correlation_by_definition(model, inputs),
        not_counted=dict(analyzer.unsupported_ops()),
    )


def _g(value: float) -> str:
    return f'{value / 1e9:.3f} G'


def report(result: Dict[str, object], shape: Tuple[int, ...], config: str) -> str:
    lines = [f'config: {config}', f'input shape: {shape}',
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


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    shape = input_shape(cfg, args.shape)
    print(report(analyse(cfg, shape), shape, args.config))
    return 0


if __name__ == '__main__':
    sys.exit(main())
