"""Time the MotionSqueeze module against the MSNet backbone it sits in.

Prints, measured in this one run on this machine (medians over repeats,
interleaved so that load changes hit every timing alike):

- the MS module's share of the whole MSNet-R50 backbone (one clip of
  ``--frames`` frames at ``--size`` px), forward (eval, no grad) and
  forward+backward (train mode);
- the eval forward of the TSM and the TSM+MS backbone after the deploy step
  ``ms_plugin.models.fuse_conv_bn`` (what ``tools/test.py --fuse-conv-bn``
  runs), and their ratio;
- the correlation op (``ms_plugin.ops.local_correlation``) against the naive
  shift-and-multiply loop, on ``frames - 1`` pairs of 64-channel maps;
- with ``--parts``, the parts of the MS forward: reduction, correlation,
  kernel-soft-argmax and transform;
- with ``--onnx``, the cost of MS in ONNX Runtime: the TSM backbone (the same
  ResNet without MS modules) and the TSM+MS backbone exported the same way
  (one clip, fixed shape), both run on ``--onnx-threads`` intra-op threads;
- with ``--onnx-profile``, ONNX Runtime's profile of the TSM+MS backbone: the
  kernel time of the MS module's nodes, per operator type, against the rest.

Example::

    OMP_NUM_THREADS=2 python tools/analysis/benchmark_ms.py --repeats 15 --parts
    python tools/analysis/benchmark_ms.py --threads 2 --onnx --repeats 15
"""
import argparse
import platform
import statistics
import time
from typing import Callable, List

import torch


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--depth', type=int, default=50, help='ResNet depth')
    parser.add_argument('--frames', type=int, default=8, help='frames per clip (T)')
    parser.add_argument('--size', type=int, default=224, help='input height and width')
    parser.add_argument('--repeats', type=int, default=7, help='timed repeats (median)')
    parser.add_argument('--warmup', type=int, default=2, help='untimed first runs')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (default: torch\'s choice)')
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
    return parser.parse_args()


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def fwd_bwd(module: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        out = module(x)
        out = out[-1] if isinstance(out, (tuple, list)) else out
        out.backward(torch.ones_like(out))
    return run


def median_ms(values: List[float]) -> float:
    return statistics.median(values) * 1000


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what platform knows."""
    try:
        with open('/proc/cpuinfo') as file:
            for line in file:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def onnx_ms_profile(backbone: torch.nn.Module, clip: torch.Tensor,
                    args: argparse.Namespace) -> None:
    """ONNX Runtime's own profile of the TSM+MS backbone: the MS module's share.

    The kernel time of the nodes the exporter names after the MS modules
    (``/ms_layer*``), per operator type, against that of all other nodes, in
    the same runs: a share that load on the machine changes little. The
    layout conversions ONNX Runtime adds around convs (``Reorder*``) carry no
    module name and count as the backbone's.
    """
    import collections
    import copy
    import json
    import os
    import tempfile

    import onnxruntime as ort
    from ms_plugin.deployment import export_onnx
    from ms_plugin.models import fuse_conv_bn

    module = fuse_conv_bn(copy.deepcopy(backbone).eval())
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, 'tsm_ms.onnx')
        export_onnx(module, clip.cpu(), path, dynamo=False, dynamic_batch=False,
                    input_name='clip', output_name='feat')
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.onnx_threads
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(folder, 'profile')
        session = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
        inputs = {'clip': clip.cpu().numpy()}
        for _ in range(args.warmup + args.repeats):
            session.run(None, inputs)
        with open(session.end_profiling()) as file:
            events = json.load(file)
    ms_ops = collections.Counter()
    others = 0.0
    runs = args.warmup + args.repeats
    for event in events:  # kernel times (ms per run) of every run, warm-up included
        if event.get('cat') == 'Node' and event['name'].endswith('_kernel_time'):
            ms_per_run = event['dur'] / 1000 / runs
            if '/ms_layer' in event['name']:
                ms_ops[event['args']['op_name']] += ms_per_run
            else:
                others += ms_per_run
    total = sum(ms_ops.values())
    convs = sum(t for op, t in ms_ops.items() if 'Conv' in op) + ms_ops['Add']
    print(f'ONNX Runtime profile of the TSM+MS backbone (fuse_conv_bn, TorchScript exporter, '
          f'correlation_impl=allpairs, input {tuple(clip.shape)}, {args.onnx_threads} '
          f'threads, {runs} runs): MS nodes {total:.2f} ms of kernel time per run, '
          f'{100 * total / others:.2f}% of the other nodes\' {others:.1f} ms; its convs and '
          f'residual sum alone {convs:.2f} ms ({100 * convs / others:.2f}%); by operator '
          'type: ' + ', '.join(f'{op} {t:.2f} ms' for op, t in ms_ops.most_common()))


def onnx_comparison(args: argparse.Namespace) -> None:
    """Time the TSM and the TSM+MS backbone in ONNX Runtime and print MS's cost."""
    import tempfile

    import onnxruntime as ort
    from ms_plugin.deployment import export_onnx, ort_session
    from ms_plugin.models.backbones import ResNetTSM_MS

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
            dynamo = export_onnx(backbones[name], clip, path, dynamo=dynamo,
                                 dynamic_batch=False, input_name='clip', output_name='feat')
            sessions[name] = ort_session(path, args.onnx_threads)
    inputs = clip.numpy()
    times = {name: [] for name in sessions}
    for i in range(args.warmup + args.repeats):
        for name, session in sessions.items():
            start = time.perf_counter()
            session.run(None, {'clip': inputs})
            if i >= args.warmup:
                times[name].append(time.perf_counter() - start)
    med = {name: median_ms(values) for name, values in times.items()}
    print(f'ONNX Runtime {ort.__version__}, {args.onnx_threads} intra-op threads, CPU: '
          f'{cpu_name()}; {"dynamo" if dynamo else "TorchScript"} exporter (torch '
          f'{torch.__version__}); medians of {args.repeats} interleaved repeats')
    print(f'| R{args.depth} backbone, 1 clip x {args.frames} frames x {args.size}x{args.size} '
          '| TSM (ms) | TSM+MS (ms) | MS cost: (TSM+MS - TSM) / TSM |')
    print('| --- | --- | --- | --- |')
    print(f'| ONNX Runtime | {med["tsm"]:.1f} | {med["tsm_ms"]:.1f} | '
          f'{100 * (med["tsm_ms"] - med["tsm"]) / med["tsm"]:.2f}% |')


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    import ms_plugin  # noqa: F401  (registers the modules, applies compat fixes)
    from mmengine.logging import MMLogger
    MMLogger.get_current_instance().setLevel('WARNING')  # no per-parameter init log
    from ms_plugin.models.backbones import ResNetTSM_MS
    from ms_plugin.ops import local_correlation, naive_local_correlation

    device = torch.device(args.device)
    torch.manual_seed(0)
    backbone = ResNetTSM_MS(depth=args.depth, num_segments=args.frames, pretrained=None,
                            pretrained2d=False).to(device)
    backbone.init_weights()
    ms = backbone.ms_layer2
    # The deploy step of tools/test.py --fuse-conv-bn, on copies of the same
    # weights with and without the MS module: the inference comparison.
    import copy
    from ms_plugin.models import fuse_conv_bn
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

    cases = {}

    def no_grad(fn):
        def run():
            with torch.no_grad():
                fn()
        return run

    cases['fused_tsm_fwd'] = (lambda: None, no_grad(lambda: fused_tsm(clip)))
    cases['fused_msnet_fwd'] = (lambda: None, no_grad(lambda: fused_ms(clip)))
    cases['backbone_fwd'] = (lambda: backbone.eval(), no_grad(lambda: backbone(clip)))
    cases['ms_fwd'] = (lambda: backbone.eval(), no_grad(lambda: ms(feat)))
    cases['backbone_fwdbwd'] = (lambda: backbone.train(), fwd_bwd(backbone, clip_grad))
    cases['ms_fwdbwd'] = (lambda: backbone.train(), fwd_bwd(ms, feat_grad))
    if args.parts:
        from ms_plugin.ops import kernel_soft_argmax
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
            cases[name] = (lambda: backbone.eval(), no_grad(fn))
    cases['corr_matmul'] = (lambda: None, no_grad(lambda: local_correlation(f1, f2, d)))
    cases['corr_naive'] = (lambda: None, no_grad(lambda: naive_local_correlation(f1, f2, d)))

    times = {name: [] for name in cases}
    for i in range(args.warmup + args.repeats):
        for name, (setup, fn) in cases.items():
            setup()
            elapsed = timed(fn, device)
            if i >= args.warmup:
                times[name].append(elapsed)
        backbone.zero_grad(set_to_none=True)
    med = {name: median_ms(values) for name, values in times.items()}

    print(f'device: {device} ({cpu_name() if device.type == "cpu" else device}), '
          f'torch {torch.__version__}, threads {torch.get_num_threads()}, '
          f'medians of {args.repeats} interleaved repeats')
    print(f'MSNet-R{args.depth} backbone, 1 clip x {args.frames} frames x {args.size}x{args.size};'
          f' MS module input {tuple(feat.shape)}')
    print('| measure | backbone (ms) | MS module (ms) | MS share of backbone |')
    print('| --- | --- | --- | --- |')
    for label, key in (('forward', 'fwd'), ('forward+backward', 'fwdbwd')):
        total, part = med[f'backbone_{key}'], med[f'ms_{key}']
        print(f'| {label} | {total:.1f} | {part:.1f} | {100 * part / total:.2f}% |')
    tsm, msnet = med['fused_tsm_fwd'], med['fused_msnet_fwd']
    print(f'inference after fuse_conv_bn (eval, no grad): TSM-R{args.depth} {tsm:.1f} ms, '
          f'TSM+MS-R{args.depth} {msnet:.1f} ms, ratio {msnet / tsm:.4f} '
          f'(+{100 * (msnet / tsm - 1):.2f}%)')
    if args.parts:
        print('MS forward parts (eval, no grad): ' + ', '.join(
            f'{name[5:]} {med[name]:.2f} ms' for name in med if name.startswith('part_'))
            + ' (reduce = 1x1 conv, BN, ReLU; correlation with ReLU; transform with '
            'the residual sum)')
    print(f'correlation of {pair_shape[0]} pairs of {pair_shape[1]}x{pair_shape[2]}x'
          f'{pair_shape[3]}, d={d}: row matmuls {med["corr_matmul"]:.2f} ms, naive '
          f'shift-and-multiply loop {med["corr_naive"]:.2f} ms, '
          f'speed-up x{med["corr_naive"] / med["corr_matmul"]:.1f}')

    if args.onnx:
        onnx_comparison(args)
    if args.onnx_profile:
        onnx_ms_profile(backbone, clip, args)


if __name__ == '__main__':
    main()
