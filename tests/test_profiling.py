"""The measuring helpers of tools/analysis (profiling.py): timing and memory kept for backward."""
import statistics
import sys
from pathlib import Path

import torch
import torch.utils.checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'tools' / 'analysis'))
from profiling import (MIB, interleaved_medians, interleaved_times,  # noqa: E402
                       kept_for_backward, medians_ms, no_grad, paired_ratio, ratios)


def test_kept_for_backward_counts_each_storage_once():
    torch.manual_seed(0)
    x = torch.randn(256, 1024, requires_grad=True)  # 1 MiB
    w = torch.randn(1024, 1024, requires_grad=True)  # 4 MiB

    def forward():
        y = (x @ w).relu()  # mm keeps x and w; relu keeps its output (1 MiB)
        return y * y  # keeps y again: the same storage
    kept, out = kept_for_backward(forward)
    assert kept.total == 6 * MIB and out.shape == (256, 1024)
    assert sorted(size for _, size in kept.by_shape) == [MIB, MIB, 4 * MIB]
    assert '6.0 MiB' in kept.describe()
    with torch.no_grad():
        assert kept_for_backward(forward)[0].total == 0


def test_kept_for_backward_counts_a_checkpoints_inputs_not_its_inside():
    x = torch.randn(256, 1024, requires_grad=True)  # 1 MiB

    def inside(t):
        return (t * 2).sin().relu()  # sin keeps its input, relu its output: 1 MiB each
    plain, _ = kept_for_backward(lambda: inside(x))
    recomputed, _ = kept_for_backward(
        lambda: torch.utils.checkpoint.checkpoint(inside, x, use_reentrant=False))
    assert plain.total == 2 * MIB and recomputed.total == MIB  # the input only


def test_interleaved_medians_runs_setup_and_cases_in_turn():
    calls = []
    cases = {'a': (lambda: calls.append('setup a'), lambda: calls.append('a')),
             'b': (lambda: None, lambda: calls.append('b'))}
    med = interleaved_medians(cases, repeats=3, warmup=1, between=lambda: calls.append('|'))
    assert set(med) == {'a', 'b'} and all(t >= 0 for t in med.values())
    assert calls == ['setup a', 'a', 'b', '|'] * 4


def test_interleaved_times_takes_a_bare_run_as_a_case_without_setup():
    calls = []
    cases = {'a': lambda: calls.append('a'),
             'b': (lambda: calls.append('setup b'), lambda: calls.append('b'))}
    times = interleaved_times(cases, repeats=2, warmup=0)
    assert calls == ['a', 'setup b', 'b'] * 2
    assert {name: len(values) for name, values in times.items()} == {'a': 2, 'b': 2}


def test_interleaved_medians_shuffles_every_repeat_reproducibly():
    def order(seed):
        calls = []
        cases = {name: (lambda: None, lambda n=name: calls.append(n)) for name in 'abcd'}
        med = interleaved_medians(cases, repeats=7, warmup=1, between=lambda: calls.append('|'),
                                  shuffle_seed=seed)
        assert set(med) == set('abcd')
        rounds = ''.join(calls).split('|')[:-1]
        assert len(rounds) == 8 and all(sorted(r) == list('abcd') for r in rounds)
        return rounds
    rounds = order(0)
    assert rounds == order(0)  # the same seed, the same orders
    assert len(set(rounds)) > 1 and rounds != order(1)
    assert len({r[0] for r in rounds}) > 1  # not always the same case first


def test_no_grad_runs_without_autograd():
    x = torch.ones(2, requires_grad=True)
    seen = []
    no_grad(lambda: seen.append((x * 2).requires_grad))()
    assert seen == [False]


def test_interleaved_times_keeps_every_repeat_of_every_case():
    cases = {name: (lambda: None, lambda: None) for name in 'ab'}
    times = interleaved_times(cases, repeats=5, warmup=2)
    assert set(times) == {'a', 'b'} and all(len(t) == 5 for t in times.values())
    assert medians_ms(times) == {k: statistics.median(v) * 1000 for k, v in times.items()}


def test_paired_ratio_follows_load_that_drifts_between_repeats():
    # b takes 2x a in every repeat, under a load that changes between repeats.
    times = {'a': [1.0, 3.0, 1.0, 7.0, 9.0], 'b': [2.0, 6.0, 2.0, 14.0, 18.0]}
    assert paired_ratio(times, 'b', 'a') == 2.0
    assert paired_ratio(times, 'a', 'b') == 0.5
    # A slow spell that hits b alone in two repeats moves the ratio of the
    # medians (6 / 3) far more than the median of the ratios.
    times['b'] = [2.0, 6.0, 9.0, 14.0, 18.0]
    assert paired_ratio(times, 'b', 'a') == 2.0
    assert statistics.median(times['b']) / statistics.median(times['a']) == 3.0
    assert ratios(times, 'b', 'a') == (3.0, 2.0)
