"""Check the CUDA path in one command and print one table (``make gpu-check``).

On a CUDA machine, in a few minutes:

- the test suite's CUDA-marked tests (``pytest -m cuda``): ops and
  MotionSqueeze equal on CPU and CUDA, bf16/fp16 autocast, ``torch.compile``,
  one GPU epoch of ``tools/train.py`` then ``tools/test.py``; one row each;
- the MS module's share of an MSNet-R50 bf16 training step (forward +
  backward, ``--clips`` clips x ``--frames`` frames x ``--size`` px; CUDA
  events, medians of interleaved repeats);
- the peak memory of that training step with and without the MS module, and
  what autograd saves for backward in each;
- the two correlation implementations, timed.

Without CUDA it says so in one line and exits 1. ``--allow-cpu`` runs the
same code on the CPU with tiny shapes (the test suite's dry run) and exits 0.

Example::

    python tools/analysis/gpu_check.py
    python tools/analysis/gpu_check.py --allow-cpu --tests tests/test_cuda.py
"""
import argparse
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import List, Tuple

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # this folder's helpers
# First: the plugin's warning filters must precede mmengine.logging's imports.
import ms_plugin  # noqa: E402,F401  (registers the modules, applies the stack fixes)
from mmengine.logging import MMLogger  # noqa: E402
from ms_plugin.cli import add_timing_args  # noqa: E402
from ms_plugin.models.backbones import ResNetTSM_MS  # noqa: E402
from ms_plugin.ops import (CORRELATION_IMPLS, correlation_motion, l2_normalize,  # noqa: E402
                           local_correlation)
from profiling import (MIB, device_name, interleaved_medians, interleaved_times,  # noqa: E402
                       kept_for_backward, medians_ms, ratios)

REPO = Path(__file__).resolve().parents[2]
Row = Tuple[str, str, str]  # (check, result, detail)
# --allow-cpu: the same steps on shapes that take seconds on two cores.
TINY = dict(clips=1, frames=2, size=32, repeats=2, warmup=1)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--allow-cpu', action='store_true',
                        help='without CUDA, run the same steps on the CPU with tiny shapes '
                        '(a dry run) instead of failing')
    parser.add_argument('--tests', nargs='+', default=['tests'],
                        help='where pytest looks for the cuda-marked tests. Defaults to tests')
    parser.add_argument('--clips', type=int, default=8, help='clips per training step')
    parser.add_argument('--frames', type=int, default=8, help='frames per clip')
    parser.add_argument('--size', type=int, default=224, help='input height and width')
    add_timing_args(parser, repeats=10, warmup=3, threads=False)
    return parser.parse_args()


def cuda_tests(paths: List[str]) -> Tuple[List[Row], bool]:
    """Run ``pytest -m cuda`` on ``paths``; one row per test, from its JUnit XML report."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / 'cuda_tests.xml'
        proc = subprocess.run([sys.executable, '-m', 'pytest', '-m', 'cuda', '-q', '-p',
                               'no:cacheprovider', f'--junitxml={report}', *paths],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
        if not report.is_file():
            return [('pytest -m cuda', 'error', proc.stdout.strip()[-300:])], False
        cases = ET.parse(report).getroot().iter('testcase')
        rows = []
        for case in cases:
            outcome, detail = 'passed', f'{float(case.get("time", 0)):.1f} s'
            for tag in ('failure', 'error', 'skipped'):
                found = case.find(tag)
                if found is not None:
                    outcome = {'failure': 'FAILED', 'error': 'ERROR', 'skipped': 'skipped'}[tag]
                    detail = (found.get('message') or '').splitlines()[0][:120] if (
                        found.get('message')) else detail
            name = case.get('classname', '').rsplit('.', 1)[-1] + '::' + case.get('name', '')
            rows.append((name, outcome, detail))
    if not rows:
        rows.append(('pytest -m cuda', 'no tests', f'collected none under {" ".join(paths)}'))
    return rows, proc.returncode in (0, 5)  # 5: nothing collected


def build_backbones(args: argparse.Namespace, device: torch.device):
    """MSNet-R50 and the same TSM-R50 without MS, sharing their weights, in train mode."""
    torch.manual_seed(0)
    kwargs = dict(depth=50, num_segments=args.frames, pretrained=None, pretrained2d=False)
    msnet = ResNetTSM_MS(**kwargs).to(device)
    msnet.init_weights()
    tsm = ResNetTSM_MS(ms_stages=(), **kwargs).to(device)
    tsm.load_state_dict(msnet.state_dict(), strict=False)
    return msnet.train(), tsm.train()


def train_step(module: torch.nn.Module, x: torch.Tensor, device: torch.device):
    """A bf16-autocast forward and backward of ``module`` on ``x``."""
    def run() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            out = module(x)
        out = out[-1] if isinstance(out, (tuple, list)) else out
        out.float().mean().backward()
    return run


def training_share(args, msnet, clip, device) -> List[Row]:
    """The MS module's share of the bf16 training step of the whole backbone."""
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16):
        feat = msnet.layer2(msnet.layer1(msnet.maxpool(msnet.conv1(clip))))
    feat = feat.detach().requires_grad_()
    times = interleaved_times(
        {'backbone': train_step(msnet, clip, device),
         'ms': train_step(msnet.ms_layer2, feat, device)},
        args.repeats, args.warmup, device, between=lambda: msnet.zero_grad(set_to_none=True),
        shuffle_seed=0)
    med, (share, paired) = medians_ms(times), ratios(times, 'ms', 'backbone')
    shape = f'{args.clips} clips x {args.frames} x {args.size}'
    return [(f'MS share of an MSNet-R50 bf16 training step ({shape}, fwd+bwd)',
             f'{100 * share:.2f} % (paired {100 * paired:.2f} %)',
             f'backbone {med["backbone"]:.1f} ms, MS {med["ms"]:.2f} ms '
             f'(input {tuple(feat.shape)}), medians of {args.repeats} repeats in random order')]


def memory(args, msnet, tsm, clip, device) -> List[Row]:
    """Peak memory (CUDA) and memory saved for backward of a training step, with and without MS."""
    peaks, saved = {}, {}
    for name, module in (('TSM', tsm), ('TSM+MS', msnet)):
        module.zero_grad(set_to_none=True)
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            before = torch.cuda.memory_allocated(device)
            train_step(module, clip, device)()
            torch.cuda.synchronize(device)
            peaks[name] = (torch.cuda.max_memory_allocated(device) - before) / MIB
        with torch.autocast(device.type, dtype=torch.bfloat16):
            saved[name] = kept_for_backward(lambda m=module: m(clip))[0]
    feat = torch.randn((args.clips * args.frames, 512) + tuple(s // 8 for s in clip.shape[-2:]),
                       device=device, requires_grad=True)
    with torch.autocast(device.type, dtype=torch.bfloat16):
        ms_saved = kept_for_backward(lambda: msnet.ms_layer2(feat))[0]
    rows = []
    if peaks:
        rows.append(('peak memory of the bf16 training step',
                     f'TSM {peaks["TSM"]:.0f} MiB, TSM+MS {peaks["TSM+MS"]:.0f} MiB',
                     f'+{100 * (peaks["TSM+MS"] / peaks["TSM"] - 1):.1f} % with MS'))
    total = saved['TSM+MS'].total
    rows.append(('saved for backward (bf16 autocast)',
                 f'TSM {saved["TSM"].total / MIB:.0f} MiB, TSM+MS {total / MIB:.0f} MiB',
                 f'MS module alone {ms_saved.total / MIB:.1f} MiB, '
                 f'{100 * ms_saved.total / total:.2f} % of TSM+MS'))
    return rows


def correlation_impls(args, device) -> List[Row]:
    """Every correlation implementation on the pairs of a training step."""
    side = args.size // 8
    shape = (args.clips * (args.frames - 1), 64, side, side)
    f1, f2 = (l2_normalize(torch.randn(shape, device=device)).requires_grad_() for _ in '12')
    cases = {}
    for impl in CORRELATION_IMPLS:
        def forward(impl=impl):
            with torch.no_grad():
                local_correlation(f1, f2, 7, impl)

        def fwd_bwd(impl=impl):
            correlation_motion(f1, f2, 7, impl=impl).sum().backward()
        cases[f'{impl} fwd'] = forward
        cases[f'{impl} fwd+bwd'] = fwd_bwd
    med = interleaved_medians(cases, args.repeats, args.warmup, device, shuffle_seed=0)
    return [(f'correlation {impl!r}, {shape[0]} pairs of {shape[1]}x{side}x{side}, d=7',
             f'{med[f"{impl} fwd"]:.2f} ms fwd',
             f'{med[f"{impl} fwd+bwd"]:.2f} ms fwd+bwd with the soft-argmax (float32)')
            for impl in CORRELATION_IMPLS]


def main() -> int:
    args = parse_args()
    if not torch.cuda.is_available():
        if not args.allow_cpu:
            print(f'gpu_check: no CUDA device visible to torch {torch.__version__}; nothing '
                  'was checked (--allow-cpu runs the dry run on the CPU).')
            return 1
        vars(args).update(TINY)
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    MMLogger.get_current_instance().setLevel('WARNING')
    rows, tests_ok = cuda_tests(args.tests)
    msnet, tsm = build_backbones(args, device)
    clip = torch.randn(args.clips * args.frames, 3, args.size, args.size, device=device)
    rows += training_share(args, msnet, clip, device)
    rows += memory(args, msnet, tsm, clip, device)
    rows += correlation_impls(args, device)
    print(f'gpu_check on {device} ({device_name(device)}), torch {torch.__version__}, '
          f'CUDA {torch.version.cuda}' + (' -- CPU dry run, tiny shapes' if device.type == 'cpu'
                                          else ''))
    print('| check | result | detail |')
    print('| --- | --- | --- |')
    for row in rows:
        print('| ' + ' | '.join(row) + ' |')
    return 0 if tests_ok else 1


if __name__ == '__main__':
    os.environ.setdefault('PYTHONWARNINGS', 'ignore')
    sys.exit(main())
