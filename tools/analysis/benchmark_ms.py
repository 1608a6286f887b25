"""Time the MotionSqueeze module against the MSNet backbone it sits in.

Prints, measured in this one run on this machine (medians over repeats,
interleaved so that load changes hit every timing alike):

- the MS module's share of the whole MSNet-R50 backbone (one clip of
  ``--frames`` frames at ``--size`` px), forward (eval, no grad) and
  forward+backward (train mode);
- the eval forward of the TSM and the TSM+MS backbone after the deploy step
  ``ms_plugin.models.fuse_conv_bn`` (what ``tools/test.py --fuse-conv-bn``
  runs), and their ratio;
- the correlation op against the naive loop, on ``frames - 1`` pairs;
- with ``--parts``, the parts of the MS forward;
- with ``--onnx``, the cost of MS in ONNX Runtime: the TSM backbone (the same
  ResNet without MS modules) and the TSM+MS backbone exported the same way
  (one clip, fixed shape), both run on ``--onnx-threads`` intra-op threads;
- with ``--onnx-profile``, ONNX Runtime's profile of the TSM+MS backbone: the
  kernel time of the MS module's nodes, per operator type, against the rest;
- with ``--memory``, what autograd keeps for backward (unique storages,
  parameters and inputs included) in the backbone and in its MS module;
- with ``--reference-repo PATH`` (a clone of github arunos728/MotionSqueeze,
  read at run time by ``authors_ms.py`` of this folder), the authors' MS
  module against this one, same features and weights, fwd and fwd+bwd.

Example::

    OMP_NUM_THREADS=2 python tools/analysis/benchmark_ms.py --repeats 15 --parts --memory
    python tools/analysis/benchmark_ms.py --threads 2 --onnx --repeats 15
    python tools/analysis/benchmark_ms.py --threads 2 --reference-repo ~/MotionSqueeze
"""
import argparse
import copy
import os
import sys
import tempfile
from typing import Callable

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # this folder's helpers
# First: the plugin's warning filters must precede mmengine.logging's imports.
import ms_plugin  # noqa: E402,F401  (registers the modules, applies the stack fixes)
from authors_ms import copy_weights_to_authors, load_authors_ms  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from ms_plugin.cli import add_timing_args, apply_timing_args  # noqa: E402
from ms_plugin.deployment import export_onnx, ort_session  # noqa: E402
from ms_plugin.models import fuse_conv_bn, motion_squeeze_modules  # noqa: E402
from ms_plugin.models.backbones import ResNetTSM_MS  # noqa: E402
from ms_plugin.ops import (kernel_soft_argmax, local_correlation,  # noqa: E402
                           naive_local_correlation)
from profiling import (MIB, cpu_name, device_name, interleaved_times,  # noqa: E402
                       kept_for_backward, medians_ms, no_grad, ort_kernel_times, ratios)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--depth', type=int, default=50, help='ResNet depth')
    parser.add_argument('--frames', type=int, default=8, help='frames per clip (T)')
    parser.add_argument('--size', type=int, default=224, help='input height and width')
    add_timing_args(parser, repeats=7, warmup=2)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--parts', action='store_true',
                        help='also time the parts of the MS forward (eval, no grad)')
    parser.add_argument('--onnx', action='store_true',
                        help='also compare the TSM and TSM+MS backbones in ONNX Runtime '
                        '(needs onnx and onnxruntime)')
    parser.add_argument('--onnx-threads', type=int, default=2,
                        help='ONNX Runtime intra-op threads. Defaults to 2')
    parser.add_argument('--onnx-profile', action='store_true',
                        help='also profile the TSM+MS backbone (after fuse_conv_bn) in ONNX '
                        "Runtime and print the MS module's share of its kernel time, per "
                        'operator type')
    parser.add_argument('--onnx-exporter', choices=('auto', 'torchscript', 'dynamo'),
                        default='auto', help='exporter of both backbones (auto: the '
                        'TorchScript one, the dynamo one if that fails). Defaults to auto')
    parser.add_argument('--memory', action='store_true',
                        help='also print what autograd keeps for backward, backbone and MS')
    parser.add_argument('--reference-repo', metavar='PATH',
                        help='also time the authors\' MS module, read from this clone of '
                        'github arunos728/MotionSqueeze (resnet_TSM.py)')
    return parser.parse_args()


def fwd_bwd(module: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        out = module(x)
        out = out[-1] if isinstance(out, (tuple, list)) else out
        out.backward(torch.ones_like(out))
    return run


def allpairs_copy(backbone: torch.nn.Module) -> torch.nn.Module:
    """An eval copy whose MS modules use the exportable correlation (the same values)."""
    module = copy.deepcopy(backbone).eval()
    for ms in motion_squeeze_modules(module).values():
        ms.correlation_impl = 'allpairs'
    return module


def onnx_ms_profile(backbone: torch.nn.Module, clip: torch.Tensor,
                    args: argparse.Namespace) -> None:
    """ONNX Runtime's own profile of the TSM+MS backbone: the MS module's share.

    The kernel time of the nodes the exporter names after the MS modules
    (``/ms_layer*``), per operator type, against that of all other nodes, in
    the same runs: a share that load on the machine changes little. The
    layout conversions ONNX Runtime adds around convs (``Reorder*``) carry no
    module name and count as the backbone's.
    """
    module = fuse_conv_bn(allpairs_copy(backbone))
    runs = args.warmup + args.repeats  # the profile holds every run, warm-up included
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, 'tsm_ms.onnx')
        export_onnx(module, clip.cpu(), path, dynamo=False, dynamic_batch=False,
                    input_name='clip', output_name='feat')
        ms_ops, others = ort_kernel_times(path, {'clip': clip.cpu().numpy()}, runs,
                                          args.onnx_threads, '/ms_layer')
    total = sum(ms_ops.values())
    convs = sum(t for op, t in ms_ops.items() if 'Conv' in op) + ms_ops.get('Add', 0.0)
    print(f'ONNX Runtime profile of the TSM+MS backbone (fuse_conv_bn, TorchScript exporter, '
          f'correlation_impl=allpairs, input {tuple(clip.shape)}, {args.onnx_threads} '
          f'threads, {runs} runs): MS nodes {total:.2f} ms of kernel time per run, '
          f'{100 * total / others:.2f}% of the other nodes\' {others:.1f} ms; its convs and '
          f'residual sum alone {convs:.2f} ms ({100 * convs / others:.2f}%); by operator '
          'type: ' + ', '.join(f'{op} {t:.2f} ms' for op, t in ms_ops.items()))


def onnx_comparison(args: argparse.Namespace) -> None:
    """Time the TSM and the TSM+MS backbone in ONNX Runtime and print MS's cost."""
    import onnxruntime as ort  # the deploy extra, needed for --onnx only

    backbones = {}
    for name, ms_stages in (('tsm', ()), ('tsm_ms', (1, ))):
        torch.manual_seed(0)
        backbones[name] = ResNetTSM_MS(depth=args.depth, num_segments=args.frames,
                                       ms_stages=ms_stages, pretrained=None,
                                       pretrained2d=False).eval()
    backbones['tsm_ms'].init_weights()
    # The shared layers get the same weights: the two graphs differ only by MS.
    backbones['tsm'].load_state_dict(backbones['tsm_ms'].state_dict(), strict=False)
    clip = torch.randn(args.frames, 3, args.size, args.size)
    dynamo = {'auto': None, 'torchscript': False, 'dynamo': True}[args.onnx_exporter]
    sessions = {}
    with tempfile.TemporaryDirectory() as folder:
        # The MS backbone first: if it needs the dynamo exporter, TSM gets it too.
        for name in ('tsm_ms', 'tsm'):
            path = f'{folder}/{name}.onnx'
            dynamo = export_onnx(allpairs_copy(backbones[name]), clip, path, dynamo=dynamo,
                                 dynamic_batch=False, input_name='clip', output_name='feat')
            sessions[name] = ort_session(path, args.onnx_threads)
    inputs = {'clip': clip.numpy()}
    times = interleaved_times({name: (lambda s=session: s.run(None, inputs))
                               for name, session in sessions.items()},
                              args.repeats, args.warmup)
    med, (ratio, paired) = medians_ms(times), ratios(times, 'tsm_ms', 'tsm')
    print(f'ONNX Runtime {ort.__version__}, {args.onnx_threads} intra-op threads, CPU: '
          f'{cpu_name()}; {"dynamo" if dynamo else "TorchScript"} exporter (torch '
          f'{torch.__version__}); medians of {args.repeats} interleaved repeats')
    print(f'| R{args.depth} backbone, 1 clip x {args.frames} frames x {args.size}x{args.size} '
          '| TSM (ms) | TSM+MS (ms) | MS cost: (TSM+MS - TSM) / TSM |')
    print('| --- | --- | --- | --- |')
    print(f'| ONNX Runtime | {med["tsm"]:.1f} | {med["tsm_ms"]:.1f} | '
          f'{100 * (ratio - 1):.2f}% (paired {100 * (paired - 1):.2f}%) |')


def memory_report(backbone: torch.nn.Module, clip: torch.Tensor, feat: torch.Tensor,
                  depth: int) -> None:
    """What autograd keeps for backward (train mode): backbone, MS module, MS's largest parts."""
    backbone.train()
    total = kept_for_backward(lambda: backbone(clip))[0].total
    ms = kept_for_backward(lambda: backbone.ms_layer2(feat.clone().requires_grad_(True)))[0]
    print(f'saved for backward (train mode; unique storages, parameters and inputs included): '
          f'MSNet-R{depth} backbone {total / MIB:.1f} MiB, its MS module {ms.total / MIB:.1f} MiB '
          f'({100 * ms.total / total:.2f}%)')
    print('MS module, by shape, MiB: ' + ms.describe(top=10))


def authors_cases(args: argparse.Namespace, ms: torch.nn.Module, feat: torch.Tensor,
                  device: torch.device) -> dict:
    """This MS module and the authors' (same weights, same features): fwd and fwd+bwd."""
    theirs = load_authors_ms(args.reference_repo, args.frames, device.type)
    copy_weights_to_authors(ms, theirs)
    with torch.no_grad():
        error = (theirs.eval()(feat) - ms.eval()(feat)).abs().max().item()
    print(f"authors' module loaded from {args.reference_repo} (Matching_layer_mm); largest "
          f'difference of its output from this one, eval: {error:.2e}')
    feat_grad = feat.clone().requires_grad_(True)
    cases = {}
    for name, module in (('ours', ms), ('authors', theirs)):
        cases[f'{name}_fwd'] = (module.eval, no_grad(lambda m=module: m(feat)))
        cases[f'{name}_fwdbwd'] = (module.train, fwd_bwd(module, feat_grad))
    return cases


def main() -> None:
    args = parse_args()
    apply_timing_args(args)
    MMLogger.get_current_instance().setLevel('WARNING')  # no per-parameter init log

    device = torch.device(args.device)
    torch.manual_seed(0)
    backbone = ResNetTSM_MS(depth=args.depth, num_segments=args.frames, pretrained=None,
                            pretrained2d=False).to(device)
    backbone.init_weights()
    ms = backbone.ms_layer2
    # The deploy step of tools/test.py --fuse-conv-bn, on copies of the same
    # weights with and without the MS module: the inference comparison.
    fused_ms = fuse_conv_bn(copy.deepcopy(backbone).eval())
    fused_tsm = ResNetTSM_MS(depth=args.depth, num_segments=args.frames, ms_stages=(),
                             pretrained=None, pretrained2d=False).to(device)
    fused_tsm.load_state_dict(backbone.state_dict(), strict=False)
    fused_tsm = fuse_conv_bn(fused_tsm.eval())
    clip = torch.randn(args.frames, 3, args.size, args.size, device=device)
    with torch.no_grad():  # the input the MS module sees inside the backbone
        feat = backbone.layer2(backbone.layer1(backbone.maxpool(backbone.conv1(clip))))
    feat_grad = feat.clone().requires_grad_(True)
    clip_grad = clip.clone().requires_grad_(True)
    d = ms.max_displacement
    pair_shape = (args.frames - 1, ms.reduce.conv.out_channels) + tuple(feat.shape[2:])
    f1, f2 = torch.randn(pair_shape, device=device), torch.randn(pair_shape, device=device)

    cases = {
        'fused_tsm_fwd': no_grad(lambda: fused_tsm(clip)),
        'fused_msnet_fwd': no_grad(lambda: fused_ms(clip)),
        'backbone_fwd': (backbone.eval, no_grad(lambda: backbone(clip))),
        'ms_fwd': (backbone.eval, no_grad(lambda: ms(feat))),
        'backbone_fwdbwd': (backbone.train, fwd_bwd(backbone, clip_grad)),
        'ms_fwdbwd': (backbone.train, fwd_bwd(ms, feat_grad)),
    }
    if args.parts:
        ms.eval()
        with torch.no_grad():  # the inputs each part sees inside the module
            src, tgt = ms.frame_pairs(feat)
            corr = local_correlation(src, tgt, d).relu()
            motion = ms.estimate_motion(feat)
        parts = {
            'part_reduce': lambda: ms.reduce(feat),
            'part_correlation': lambda: local_correlation(src, tgt, d).relu(),
            'part_soft_argmax': lambda: kernel_soft_argmax(corr, d, ms.sigma, ms.temperature),
            'part_transform': lambda: feat + ms.transform(motion),
        }
        for name, fn in parts.items():
            cases[name] = (backbone.eval, no_grad(fn))
    cases['corr_matmul'] = no_grad(lambda: local_correlation(f1, f2, d))
    cases['corr_naive'] = no_grad(lambda: naive_local_correlation(f1, f2, d))
    if args.reference_repo:
        cases.update(authors_cases(args, ms, feat, device))
    # A new random order in every repeat: no case is always timed after the same neighbour.
    times = interleaved_times(cases, args.repeats, args.warmup, device,
                              between=lambda: backbone.zero_grad(set_to_none=True),
                              shuffle_seed=0)
    med = medians_ms(times)

    print(f'device: {device} ({device_name(device)}), torch {torch.__version__}, threads '
          f'{torch.get_num_threads()}, medians of {args.repeats} interleaved repeats, '
          'each in a random order')
    print(f'MSNet-R{args.depth} backbone, 1 clip x {args.frames} frames x {args.size}x{args.size};'
          f' MS module input {tuple(feat.shape)}')
    print("Ratios and shares are of the medians; 'paired': the median over repeats of the "
          'ratio of the two cases timed in the same repeat.')
    print('| measure | backbone (ms) | MS module (ms) | MS share of backbone |')
    print('| --- | --- | --- | --- |')
    for label, key in (('forward', 'fwd'), ('forward+backward', 'fwdbwd')):
        share, paired = ratios(times, f'ms_{key}', f'backbone_{key}')
        print(f'| {label} | {med[f"backbone_{key}"]:.1f} | {med[f"ms_{key}"]:.1f} | '
              f'{100 * share:.2f}% (paired {100 * paired:.2f}%) |')
    ratio, paired = ratios(times, 'fused_msnet_fwd', 'fused_tsm_fwd')
    print(f'inference after fuse_conv_bn (eval, no grad): TSM-R{args.depth} '
          f'{med["fused_tsm_fwd"]:.1f} ms, TSM+MS-R{args.depth} {med["fused_msnet_fwd"]:.1f} ms, '
          f'ratio {ratio:.4f} (+{100 * (ratio - 1):.2f}%), paired {paired:.4f}')
    if args.parts:
        print('MS forward parts (eval, no grad): ' + ', '.join(
            f'{name[5:]} {med[name]:.2f} ms' for name in med if name.startswith('part_'))
            + ' (reduce = 1x1 conv, BN, ReLU; correlation with ReLU; transform with '
            'the residual sum)')
    print(f'correlation of {pair_shape[0]} pairs of {pair_shape[1]}x{pair_shape[2]}x'
          f'{pair_shape[3]}, d={d}: row matmuls {med["corr_matmul"]:.2f} ms, naive '
          f'shift-and-multiply loop {med["corr_naive"]:.2f} ms, '
          f'speed-up x{med["corr_naive"] / med["corr_matmul"]:.1f}')
    if args.reference_repo:
        fwd, fwd_paired = ratios(times, 'ours_fwd', 'authors_fwd')
        fwdbwd, fwdbwd_paired = ratios(times, 'ours_fwdbwd', 'authors_fwdbwd')
        print("this MS module / the authors' (same features and weights): forward (eval, no "
              f'grad) {med["ours_fwd"]:.2f} / {med["authors_fwd"]:.2f} ms = {fwd:.3f}x '
              f'(paired {fwd_paired:.3f}x); forward+backward (train) {med["ours_fwdbwd"]:.2f} / '
              f'{med["authors_fwdbwd"]:.2f} ms = {fwdbwd:.3f}x (paired {fwdbwd_paired:.3f}x)')
    if args.memory:
        memory_report(backbone, clip, feat, args.depth)
    if args.onnx:
        onnx_comparison(args)
    if args.onnx_profile:
        onnx_ms_profile(backbone, clip, args)


if __name__ == '__main__':
    main()
