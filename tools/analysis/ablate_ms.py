"""Does each optimisation of the MS module pay? Paired timings and memory, whole module.

Runs the MotionSqueeze module of an MSNet backbone (its input: the features
after ``layer2`` of one clip of ``--frames`` frames at ``--size`` px) as it is,
and with one change at a time, same weights and input; each variant is
timed against the module as it is in its own interleaved run, and printed:
the paired forward+backward (train) and forward (eval, no grad) time
ratios, and the memory kept for backward. An optimisation stays in ``ms_plugin`` only if it saves at least
3 % of the forward+backward time or 5 % of that memory
(``docs/benchmarks.md``).

Variants built from plain operators here (the module as it is computes the
matching with ``correlation_impl='fused'``, its written-out backward):

- ``autograd_checkpoint``: the matching (``'strided'`` correlation, ReLU,
  kernel-soft-argmax) through plain autograd, recomputed in backward by
  ``torch.utils.checkpoint`` (``correlation_impl='strided'``);
- ``no_checkpoint``: the same without the checkpoint;
- ``allpairs``: as ``autograd_checkpoint`` with ``correlation_impl='allpairs'``;
- ``plain_relu_add``: ``x + torch.relu(y)`` instead of ``ops.relu_add``;
- ``masked_fill_relu``: the last ReLU as ``y.masked_fill(y < 0, 0)`` (plain
  operators that also keep a 1-byte mask) before the residual sum;
- ``bmm_1x1``: the 1x1 convs as one batched ``bmm`` instead of ``nn.Conv2d``
  (the earlier ``PointwiseConv2d``).

With ``--old-ops PATH`` (a copy of an earlier ``ms_plugin/ops`` folder that
has them, loaded as a package), the earlier CPU forms too: ``scale_rank_argmax`` (``max_and_argmax``),
``old_relu_add_`` (in place), ``hand_backward`` (``correlation_motion``'s written-out
backward of the masked layout) and ``masked_strided`` (the correlation with a 0/1 mask).

Example::

    OMP_NUM_THREADS=2 python tools/analysis/ablate_ms.py --threads 2 --repeats 15
"""
import argparse
import importlib.util
import os
import sys
from types import SimpleNamespace

import torch
from torch.utils.checkpoint import checkpoint

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # this folder's helpers
import ms_plugin  # noqa: E402,F401  (registers the modules, applies the stack fixes)
from mmengine.logging import MMLogger  # noqa: E402
from ms_plugin.cli import add_timing_args, apply_timing_args  # noqa: E402
from ms_plugin.models.backbones import ResNetTSM_MS  # noqa: E402
from ms_plugin.ops import (correlation_motion, displacement_grid, l2_normalize,  # noqa: E402
                           local_correlation, relu_add)
from profiling import (MIB, cpu_name, interleaved_times, kept_for_backward,  # noqa: E402
                       medians_ms, no_grad, ratios)

BASE = dict(matching='fused', checkpoint=True, corr='strided', bmm_1x1=False, argmax='max',
            last_relu='relu_add', hand_backward=False)
AUTOGRAD = dict(matching='autograd')
VARIANTS = {
    'autograd_checkpoint': AUTOGRAD,
    'no_checkpoint': dict(AUTOGRAD, checkpoint=False),
    'allpairs': dict(AUTOGRAD, corr='allpairs'),
    'plain_relu_add': dict(last_relu='relu'),
    'masked_fill_relu': dict(last_relu='masked_fill'),
    'bmm_1x1': dict(bmm_1x1=True),
}
OLD_VARIANTS = {
    'scale_rank_argmax': dict(AUTOGRAD, argmax='scale_rank'),
    'old_relu_add_': dict(last_relu='old_relu_add_'),
    'hand_backward': dict(AUTOGRAD, hand_backward=True),
    'masked_strided': dict(AUTOGRAD, corr='masked_strided'),
}


def load_old_ops(path: str):
    """The ops package at ``path`` (relative imports only), as ``old_ops``."""
    spec = importlib.util.spec_from_file_location(
        'old_ops', os.path.join(path, '__init__.py'), submodule_search_locations=[path])
    module = importlib.util.module_from_spec(spec)
    sys.modules['old_ops'] = module
    spec.loader.exec_module(module)
    return module


def conv_module(cm, x, v, old, act=True):
    """A ConvModule (conv, norm, act); a 1x1 conv as one ``bmm`` if ``v.bmm_1x1``."""
    conv = cm.conv
    if conv.kernel_size == (1, 1) and v.bmm_1x1:
        n, c, h, w = x.shape
        weight = conv.weight.view(1, -1, c).expand(n, -1, -1)  # [C_out, C, 1, 1] -> [N, C_out, C]
        x = torch.bmm(weight, x.reshape(n, c, h * w)).view(n, -1, h, w)  # [N, C_out, H, W]
        if conv.bias is not None:
            x = x + conv.bias.view(1, -1, 1, 1)
    else:
        x = conv(x)
    x = cm.bn(x)
    return cm.activate(x) if act else x


def soft_argmax(corr, d, sigma, temperature, v, old):
    """The kernel-soft-argmax of ``ms_plugin.ops`` with the variant's arg-max."""
    scores = corr.permute(0, 2, 3, 1)  # [N, K, H, W] -> [N, H, W, K]
    cells = displacement_grid(d, corr.device, scores.dtype).t()  # [K, 2]
    if v.argmax == 'scale_rank':
        confidence, best = (t.squeeze(-1) for t in old.max_and_argmax(scores))
    else:
        confidence, best = scores.max(dim=-1)  # [N, H, W]
    dist2 = (cells.unsqueeze(1) - cells.unsqueeze(0)).square().sum(-1)  # [K, K]
    table = torch.exp(dist2 / (-2 * sigma ** 2))
    logits = scores * temperature * table.index_select(0, best.flatten()).view(scores.shape)
    displacement = torch.softmax(logits, dim=-1) @ cells / d  # [N, H, W, 2]
    # [N, H, W, 2] + [N, H, W, 1] -> [N, H, W, 3] -> [N, 3, H, W]
    return torch.cat([displacement, confidence.unsqueeze(-1)], -1).permute(0, 3, 1, 2)


def variant_forward(ms, x, v, old):
    """MotionSqueeze.forward with the variant's changes (default R50 settings)."""
    t, d = ms.num_segments, ms.max_displacement
    feat = l2_normalize(conv_module(ms.reduce, x, v, old))  # [N*T, C', H, W]
    nt, c, h, w = feat.shape
    feat = feat.view(nt // t, t, c, h, w)  # -> [N, T, C', H, W]
    src = feat[:, :-1].reshape(-1, c, h, w)  # -> [N*(T-1), C', H, W]
    tgt = feat[:, 1:].reshape(-1, c, h, w)

    def matching(a, b):
        if v.corr == 'masked_strided':
            corr = old.local_correlation(a, b, d, 'strided')
        else:
            corr = local_correlation(a, b, d, v.corr)
        return soft_argmax(corr.relu(), d, ms.sigma, ms.temperature, v, old)

    if v.matching == 'fused':
        motion = correlation_motion(src, tgt, d, ms.sigma, ms.temperature, 'kernel', 'fused')
    elif v.hand_backward:
        motion = old.correlation_motion(src, tgt, d, ms.sigma, ms.temperature)
    elif v.checkpoint:
        motion = checkpoint(matching, src, tgt, use_reentrant=False)
    else:
        motion = matching(src, tgt)
    motion = motion.view(-1, t - 1, 3, h, w)  # -> [N, T-1, 3, H, W]
    out = torch.cat([motion, motion[:, -1:]], 1).flatten(0, 1)  # -> [N*T, 3, H, W]
    for i, block in enumerate(ms.transform):  # the last block ends without its ReLU
        out = conv_module(block.depthwise, out, v, old)
        out = conv_module(block.pointwise, out, v, old, act=i < len(ms.transform) - 1)
    if v.last_relu == 'old_relu_add_':
        return old.relu_add_(out, x)
    if v.last_relu == 'masked_fill':
        return x + out.masked_fill(out < 0, 0)
    return x + torch.relu(out) if v.last_relu == 'relu' else relu_add(out, x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--depth', type=int, default=50, help='ResNet depth')
    parser.add_argument('--frames', type=int, default=8, help='frames per clip (T)')
    parser.add_argument('--size', type=int, default=224, help='input height and width')
    parser.add_argument('--old-ops', metavar='PATH', help="an earlier ms_plugin/ops folder")
    add_timing_args(parser, repeats=15, warmup=2)
    args = parser.parse_args()
    apply_timing_args(args)
    MMLogger.get_current_instance().setLevel('WARNING')
    old = load_old_ops(args.old_ops) if args.old_ops else None
    variants = dict(VARIANTS, **(OLD_VARIANTS if old else {}))

    torch.manual_seed(0)
    backbone = ResNetTSM_MS(depth=args.depth, num_segments=args.frames, pretrained=None,
                            pretrained2d=False)
    backbone.init_weights()
    ms = backbone.ms_layer2
    clip = torch.randn(args.frames, 3, args.size, args.size)
    with torch.no_grad():  # the input the MS module sees inside the backbone
        feat = backbone.layer2(backbone.layer1(backbone.maxpool(backbone.conv1(clip))))
    feat_grad = feat.clone().requires_grad_(True)

    forwards = {'as_is': ms}
    for name, change in variants.items():
        v = SimpleNamespace(**dict(BASE, **change))
        forwards[name] = lambda x, v=v: variant_forward(ms, x, v, old)
    ms.eval()
    with torch.no_grad():
        ref = ms(feat)
        errors = {name: (fn(feat) - ref).abs().max().item() for name, fn in forwards.items()}
    kept = {name: kept_for_backward(lambda fn=fn: fn(feat_grad))[0].total
            for name, fn in forwards.items()}
    print(f'CPU: {cpu_name()}, torch {torch.__version__}, threads {torch.get_num_threads()}; '
          f'MS module of MSNet-R{args.depth}, input {tuple(feat.shape)}; each variant timed '
          f'against the module as it is in its own run of {args.repeats} interleaved repeats '
          '(random order); paired = median over repeats of the ratio in the same repeat')
    print('| variant | fwd+bwd (ms) | paired vs as_is | fwd (ms) | paired vs as_is | '
          'kept for backward (MiB) | vs as_is | max diff of output |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- |')
    for name, fn in forwards.items():
        if name == 'as_is':
            continue
        cases = {}
        for key, run in (('as_is', ms), (name, fn)):
            cases[f'{key} fwd'] = (ms.eval, no_grad(lambda run=run: run(feat)))
            cases[f'{key} fwdbwd'] = (ms.train, lambda run=run: run(feat_grad).sum().backward())
        times = interleaved_times(cases, args.repeats, args.warmup, shuffle_seed=0,
                                  between=lambda: ms.zero_grad(set_to_none=True))
        med = medians_ms(times)
        fb = ratios(times, f'{name} fwdbwd', 'as_is fwdbwd')[1]
        f = ratios(times, f'{name} fwd', 'as_is fwd')[1]
        print(f'| {name} | {med[f"{name} fwdbwd"]:.1f} (as_is {med["as_is fwdbwd"]:.1f}) | '
              f'{fb:.3f} | {med[f"{name} fwd"]:.1f} (as_is {med["as_is fwd"]:.1f}) | {f:.3f} | '
              f'{kept[name] / MIB:.1f} (as_is {kept["as_is"] / MIB:.1f}) | '
              f'{100 * (kept[name] / kept["as_is"] - 1):+.1f}% | {errors[name]:.1e} |', flush=True)


if __name__ == '__main__':
    main()
