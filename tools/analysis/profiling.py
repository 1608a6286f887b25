"""Measuring helpers of ``benchmark_ms.py``, ``ablate_ms.py`` and ``gpu_check.py`` (this folder).

- :func:`interleaved_times` and :func:`interleaved_medians`: the times of
  several cases, run in turn within every repeat, so that a change of load
  on a shared machine hits every case alike; CUDA events on a GPU,
  ``perf_counter`` on the CPU. :func:`paired_ratio`: the median of the
  ratios of two cases timed in the same repeat; :func:`ratios`: that and
  the ratio of their medians.
- :func:`kept_for_backward`: the memory autograd keeps for backward during
  a forward, as unique storages.
- :func:`ort_kernel_times`: ONNX Runtime's profile of a model, by node.
- :func:`cpu_name`: the CPU's model name, printed next to every figure.
"""
import collections
import json
import os
import platform
import random
import statistics
import tempfile
import time
from typing import Callable, Dict, List, Optional, Tuple, Union

import torch

__all__ = ['interleaved_times', 'interleaved_medians', 'medians_ms', 'paired_ratio', 'ratios',
           'kept_for_backward', 'SavedTensors', 'ort_kernel_times',
           'cpu_name', 'device_name', 'MIB']

MIB = 2 ** 20
# A timed run, or (untimed setup, timed run).
Case = Union[Callable[[], object], Tuple[Callable[[], object], Callable[[], object]]]


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


def device_name(device: torch.device) -> str:
    """The GPU's name for a CUDA device, else the CPU's."""
    device = torch.device(device)
    return torch.cuda.get_device_name(device) if device.type == 'cuda' else cpu_name()


def _elapsed(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds that ``fn()`` takes: CUDA events on a GPU, ``perf_counter`` on the CPU."""
    if device.type == 'cuda':
        start, end = (torch.cuda.Event(enable_timing=True) for _ in range(2))
        torch.cuda.synchronize(device)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(end) / 1000
    begin = time.perf_counter()
    fn()
    return time.perf_counter() - begin


def no_grad(fn: Callable[[], object]) -> Callable[[], None]:
    """``fn`` run under ``torch.no_grad()``, its result dropped: a timed case of inference."""
    def run() -> None:
        with torch.no_grad():
            fn()
    return run


def interleaved_times(cases: Dict[str, Case], repeats: int, warmup: int = 1,
                      device: torch.device = torch.device('cpu'),
                      between: Optional[Callable[[], object]] = None,
                      shuffle_seed: Optional[int] = None) -> Dict[str, List[float]]:
    """Seconds of every timed repeat of every case, the cases run in turn in every repeat.

    A case leaves the caches and the allocator in a state that the next case
    starts from, so in a fixed order every case is timed after the same
    neighbour, which can favour one case over another by several percent
    (a memory-hungry case before one and a light one before the other). With
    ``shuffle_seed`` every repeat runs the cases in a new random order,
    drawn from that seed, so that every case follows each of the others.

    Args:
        cases (dict[str, callable | tuple]): name -> ``run`` or
            ``(setup, run)``; ``setup()`` runs untimed before every ``run()``
            (e.g. to set train or eval mode).
        repeats (int): Timed repeats.
        warmup (int): Untimed repeats first. Defaults to 1.
        device (torch.device): Where the cases run (CUDA: timed with events).
            Defaults to the CPU.
        between (callable, optional): Called after every repeat (e.g. to zero
            gradients). Defaults to None.
        shuffle_seed (int, optional): Run the cases in a random order in
            every repeat, drawn from this seed. Defaults to None (the order
            of ``cases`` every time).

    Returns:
        dict[str, list[float]]: name -> ``repeats`` times in seconds, the
        i-th of every case from the i-th repeat.
    """
    device = torch.device(device)
    times: Dict[str, List[float]] = {name: [] for name in cases}
    order = list(cases)
    rng = random.Random(shuffle_seed)
    for i in range(warmup + repeats):
        if shuffle_seed is not None:
            rng.shuffle(order)
        for name in order:
            case = cases[name]
            if isinstance(case, tuple):
                setup, case = case
                setup()
            elapsed = _elapsed(case, device)
            if i >= warmup:
                times[name].append(elapsed)
        if between is not None:
            between()
    return times


def interleaved_medians(cases: Dict[str, Case], repeats: int, warmup: int = 1,
                        device: torch.device = torch.device('cpu'),
                        between: Optional[Callable[[], object]] = None,
                        shuffle_seed: Optional[int] = None) -> Dict[str, float]:
    """Median milliseconds of every case, from :func:`interleaved_times` (the same arguments).

    Returns:
        dict[str, float]: name -> median time in milliseconds.
    """
    times = interleaved_times(cases, repeats, warmup, device, between, shuffle_seed)
    return medians_ms(times)


def medians_ms(times: Dict[str, List[float]]) -> Dict[str, float]:
    """name -> median in milliseconds of :func:`interleaved_times`' seconds."""
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def paired_ratio(times: Dict[str, List[float]], numerator: str, denominator: str) -> float:
    """The median over repeats of ``numerator``'s time over ``denominator``'s in the same repeat.

    On a shared machine the load drifts between repeats; two cases timed in
    the same repeat, seconds apart, see nearly the same load, so their
    ratio varies less than the ratio of their medians, whose repeats are
    taken apart. Both estimate the same ratio.

    Args:
        times (dict[str, list[float]]): As :func:`interleaved_times` returns.
        numerator (str): A case's name.
        denominator (str): Another case's name.
    """
    return statistics.median(a / b for a, b in zip(times[numerator], times[denominator]))


def ratios(times: Dict[str, List[float]], numerator: str,
           denominator: str) -> Tuple[float, float]:
    """``numerator`` over ``denominator`` two ways: the ratio of their medians, and paired.

    Args:
        times (dict[str, list[float]]): As :func:`interleaved_times` returns.
        numerator (str): A case's name.
        denominator (str): Another case's name.

    Returns:
        tuple[float, float]: the ratio of the medians and :func:`paired_ratio`.
    """
    medians = statistics.median(times[numerator]) / statistics.median(times[denominator])
    return medians, paired_ratio(times, numerator, denominator)


class SavedTensors(collections.namedtuple('SavedTensors', 'total by_shape')):
    """What :func:`kept_for_backward` returns.

    Attributes:
        total (int): Bytes of the unique storages saved for backward.
        by_shape (list[tuple[tuple, int]]): ``(shape, bytes)`` of every
            storage, largest first (a storage saved several times counts once).
    """

    def describe(self, top: int = 12) -> str:
        """One line: the total in MiB and the largest storages by shape."""
        merged = collections.Counter()
        for shape, size in self.by_shape:
            merged[str(list(shape))] += size
        parts = [f'{label} {size / MIB:.1f}' for label, size in merged.most_common(top)]
        rest = sum(merged.values()) - sum(size for _, size in merged.most_common(top))
        if rest:
            parts.append(f'other {rest / MIB:.1f}')
        return f'{self.total / MIB:.1f} MiB: ' + ', '.join(parts)


def kept_for_backward(fn: Callable[[], object]) -> Tuple[SavedTensors, object]:
    """The memory autograd keeps for backward while ``fn()`` runs a forward.

    Counts every storage handed to autograd to keep (``saved_tensors_hooks``),
    once, parameters and inputs included. What a non-reentrant
    ``torch.utils.checkpoint`` region saves goes to the checkpoint's own
    hooks and is not kept (it is recomputed); the inputs the checkpoint keeps
    are counted. Walking the graph instead would miss those inputs and make
    the checkpoint recompute.

    Returns:
        tuple[SavedTensors, object]: the count and ``fn()``'s result.
    """
    sizes: Dict[int, Tuple[tuple, int]] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        sizes.setdefault(storage.data_ptr(), (tuple(tensor.shape), storage.nbytes()))
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        out = fn()
    by_shape = sorted(sizes.values(), key=lambda item: -item[1])
    return SavedTensors(sum(size for _, size in by_shape), by_shape), out


def ort_kernel_times(path: str, inputs: Dict[str, object], runs: int, threads: int,
                     marker: str) -> Tuple[Dict[str, float], float]:
    """ONNX Runtime's own profile of a model: the marked nodes by operator type, and the rest.

    Args:
        path (str): The ``.onnx`` file.
        inputs (dict): Input name -> numpy array.
        runs (int): Profiled runs.
        threads (int): Intra-op threads.
        marker (str): Part of the node names to single out (e.g. ``'/ms_layer'``,
            how the exporters name the nodes of the MS modules).

    Returns:
        tuple[dict[str, float], float]: milliseconds of kernel time per run of
        the marked nodes by operator type (largest first), and of all others.
    """
    import onnxruntime as ort  # the deploy extra, needed here only
    with tempfile.TemporaryDirectory() as folder:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(folder, 'profile')
        session = ort.InferenceSession(path, options, providers=['CPUExecutionProvider'])
        for _ in range(runs):
            session.run(None, inputs)
        with open(session.end_profiling()) as file:
            events = json.load(file)
    marked: Dict[str, float] = collections.Counter()
    others = 0.0
    for event in events:
        if event.get('cat') == 'Node' and event['name'].endswith('_kernel_time'):
            ms_per_run = event['dur'] / 1000 / runs
            if marker in event['name']:
                marked[event['args']['op_name']] += ms_per_run
            else:
                others += ms_per_run
    return dict(marked.most_common()), others
