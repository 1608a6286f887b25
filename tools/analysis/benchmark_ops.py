"""Time the MS module's faster formulations of two ops against the ones they replace.

On the shapes the MS module of MSNet-R50 runs (``--frames`` frames of
``--size`` x ``--size`` features), in one run, medians of interleaved repeats
in a random order, each printed with the largest difference of the results:

- ``max_and_argmax`` against ``Tensor.max(dim=-1)`` over the correlation's
  ``(2d+1)**2`` displacements (``--frames - 1`` pairs), on scores made by
  the MS module's own correlation of L2-normalised random features;
- ``pointwise_conv`` (one batched matrix product) against ``F.conv2d`` for the
  module's 1x1 convs: 512 -> 64, 3 -> 16, 16 -> 32, 32 -> 64 and 64 -> 512.

Example::

    OMP_NUM_THREADS=2 python tools/analysis/benchmark_ops.py --threads 2 --repeats 25
"""
import torch
import torch.nn.functional as F

from ms_plugin.apis.cli import add_timing_args, apply_timing_args, tool_parser
from ms_plugin.ops import l2_normalize, local_correlation, max_and_argmax, pointwise_conv
from ms_plugin.utils.profiling import cpu_name, interleaved_medians, no_grad

PAIRS = ((512, 64), (3, 16), (16, 32), (32, 64), (64, 512))


def parse_args():
    parser = tool_parser(__doc__)
    parser.add_argument('--frames', type=int, default=8, help='frames per clip (T)')
    parser.add_argument('--size', type=int, default=28, help='feature height and width')
    parser.add_argument('--max-displacement', type=int, default=7, help='d of the correlation')
    add_timing_args(parser, repeats=25, warmup=3)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    apply_timing_args(args)
    torch.manual_seed(0)
    t, s, d = args.frames, args.size, args.max_displacement
    f1, f2 = (l2_normalize(torch.randn(t - 1, 64, s, s)) for _ in range(2))
    # [N, K, H, W] -> [N, H, W, K]: the layout the soft-argmax reduces
    scores = local_correlation(f1, f2, d).relu_().permute(0, 2, 3, 1)
    cases = {'max_and_argmax': no_grad(lambda: max_and_argmax(scores)),
             'Tensor.max': no_grad(lambda: scores.max(dim=-1, keepdim=True))}
    # (C_in, C_out) -> (input, weight): timed, then compared
    convs = {pair: (torch.randn(t, pair[0], s, s), torch.randn(pair[1], pair[0], 1, 1))
             for pair in PAIRS}
    for (c_in, c_out), (x, weight) in convs.items():
        cases[f'pointwise_conv {c_in}->{c_out}'] = no_grad(
            lambda x=x, w=weight: pointwise_conv(x, w))
        cases[f'F.conv2d {c_in}->{c_out}'] = no_grad(lambda x=x, w=weight: F.conv2d(x, w))
    med = interleaved_medians(cases, args.repeats, args.warmup, shuffle_seed=0)

    print(f'CPU: {cpu_name()}, torch {torch.__version__}, threads {torch.get_num_threads()}, '
          f'medians of {args.repeats} interleaved repeats, each in a random order')
    value, index = max_and_argmax(scores)
    ref_value, ref_index = scores.max(dim=-1, keepdim=True)
    same = torch.equal(index, ref_index) and torch.equal(value, ref_value)
    print('| op | ms | replaces | ms | ratio | same result |')
    print('| --- | --- | --- | --- | --- | --- |')
    print(f'| max_and_argmax {tuple(scores.shape)} | {med["max_and_argmax"]:.3f} | Tensor.max | '
          f'{med["Tensor.max"]:.3f} | {med["max_and_argmax"] / med["Tensor.max"]:.2f} | '
          f'{"identical" if same else "DIFFERENT"} |')
    for (c_in, c_out), (x, weight) in convs.items():
        ours, ref = med[f'pointwise_conv {c_in}->{c_out}'], med[f'F.conv2d {c_in}->{c_out}']
        error = (pointwise_conv(x, weight) - F.conv2d(x, weight)).abs().max().item()
        print(f'| pointwise_conv {c_in}->{c_out} | {ours:.3f} | F.conv2d | {ref:.3f} | '
              f'{ours / ref:.2f} | max diff {error:.1e} |')


if __name__ == '__main__':
    main()
