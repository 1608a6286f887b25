"""Fuse the test scores of several runs and print top-1 / top-5 accuracy.

The paper's MSNet-R50 ensemble ("En") averages the scores of the 8-frame and
the 16-frame models. Each input is what ``tools/test.py CONFIG CKPT --dump
results.pkl`` writes (MMEngine's ``DumpResults``): a pickled list with one dict
per test video, holding ``pred_score`` (a tensor of ``num_classes`` scores,
already soft-maxed when the head's ``average_clips='prob'``, the configs'
default) and ``gt_label``. The runs must cover the same videos in the same
order (the test loader does not shuffle); the tool checks the labels agree.

The dumps are pickles: load only files you wrote or trust.

Examples::

    python tools/test.py configs/msnet_r50_sthv1.py 8f.pth --dump 8f.pkl
    python tools/test.py configs/msnet_r50_16f_sthv1.py 16f.pth --dump 16f.pkl
    python tools/ensemble.py 8f.pkl 16f.pkl
    python tools/ensemble.py 8f.pkl 16f.pkl --weights 1 2 --apply-softmax
"""
import argparse
import pickle
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmaction.evaluation.functional import get_weighted_score, softmax, top_k_accuracy

from ms_plugin.cli import check_input, run_tool
from ms_plugin.utils.errors import InputError

TOPK = (1, 5)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Fuse the scores dumped by tools/test.py --dump of two or more runs '
        'and print top-1/top-5 accuracy.')
    parser.add_argument('dumps', nargs='+', help='result pickles (tools/test.py --dump)')
    parser.add_argument('--weights', type=float, nargs='+',
                        help='one weight per dump (the fused score is the weighted mean). '
                        'Defaults to equal weights')
    parser.add_argument('--apply-softmax', action='store_true',
                        help='soft-max each run\'s scores before fusing (for dumps of raw '
                        'class scores, i.e. average_clips="score")')
    parser.add_argument('--out', help='also write the fused scores, in the same format (.pkl)')
    return parser.parse_args(argv)


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, 'detach'):  # a torch.Tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def load_dump(path: str) -> Tuple[np.ndarray, np.ndarray]:
    """Scores ``[num_videos, num_classes]`` and labels ``[num_videos]`` of one dump."""
    with open(path, 'rb') as file:
        results = pickle.load(file)
    if not isinstance(results, list) or not results or not all(
            isinstance(r, dict) and 'pred_score' in r and 'gt_label' in r for r in results):
        raise InputError(f'{path} is not a dump of tools/test.py --dump: expected a '
                         'non-empty list of dicts with "pred_score" and "gt_label".')
    scores = np.stack([_to_numpy(r['pred_score']).astype(np.float64).reshape(-1)
                       for r in results])
    labels = np.array([int(_to_numpy(r['gt_label']).reshape(-1)[0]) for r in results])
    return scores, labels


def fuse(all_scores: Sequence[np.ndarray], weights: Optional[Sequence[float]] = None,
         apply_softmax: bool = False) -> np.ndarray:
    """Weighted mean of the runs' scores (each soft-maxed first if asked)."""
    weights = [1.0] * len(all_scores) if weights is None else list(weights)
    if len(weights) != len(all_scores):
        raise InputError(f'{len(weights)} weights for {len(all_scores)} dumps; give one '
                         'per dump.')
    if sum(weights) <= 0:
        raise InputError('the weights must sum to a positive number.')
    runs = [softmax(s) if apply_softmax else s for s in all_scores]
    return np.stack(get_weighted_score(runs, weights)) / sum(weights)


def accuracy(scores: np.ndarray, labels: np.ndarray,
             topk: Sequence[int] = TOPK) -> Dict[int, float]:
    """``{k: fraction of videos whose label is among the k highest scores}``.

    MMAction2's ``top_k_accuracy``, as its ``AccMetric`` reports it.
    """
    return dict(zip(topk, (float(acc) for acc in top_k_accuracy(scores, labels, topk))))


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if len(args.dumps) < 2:
        print('note: one dump given; its own accuracy is printed, nothing is fused.')
    for path in args.dumps:
        check_input(path, 'dump')
    loaded = [load_dump(path) for path in args.dumps]
    labels = loaded[0][1]
    for path, (scores, other) in zip(args.dumps, loaded):
        if scores.shape != loaded[0][0].shape or not np.array_equal(other, labels):
            raise InputError(
                f'{path} does not cover the same videos as {args.dumps[0]} '
                f'(scores {scores.shape} vs {loaded[0][0].shape}, or other labels): dump '
                'every run on the same test list.')
    for path, (scores, _) in zip(args.dumps, loaded):
        acc = accuracy(softmax(scores) if args.apply_softmax else scores, labels)
        print(f'{path}: ' + ', '.join(f'top{k} {100 * v:.2f}' for k, v in acc.items()))
    fused = fuse([scores for scores, _ in loaded], args.weights, args.apply_softmax)
    acc = accuracy(fused, labels)
    print(f'ensemble of {len(loaded)} ({len(labels)} videos): '
          + ', '.join(f'top{k} {100 * v:.2f}' for k, v in acc.items()))
    if args.out:
        with open(args.out, 'wb') as file:
            fused_results = [dict(pred_score=score, gt_label=np.array([label]))
                             for score, label in zip(fused, labels)]
            pickle.dump(fused_results, file)
        print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
