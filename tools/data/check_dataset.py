#!/usr/bin/env python
"""Check a config's datasets before a long job (see docs/tools.md).

For each split: the annotation files exist; every video opens (decord) and
every frame folder holds the frames of ``filename_tmpl`` its list line says;
the labels and every ``Flip`` step's ``flip_label_map`` lie within
``model.cls_head.num_classes``. ``--decode`` also decodes every frame and
reports damaged but openable files (decoder errors, or fewer frames than the
container declares). Exit status 0 when all is well, 1 with a list of the
problems, each naming the file and the annotation file and line.

Examples::

    python tools/data/check_dataset.py configs/msnet_r50_sthv1.py
    python tools/data/check_dataset.py configs/msnet_r50_sthv2.py --split val --decode
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from tqdm import tqdm  # noqa: E402

from ms_plugin.apis import (add_cfg_options, check_config, exit_on_entry_error,  # noqa: E402
                            load_config)
from ms_plugin.datasets.check_files import check_datasets  # noqa: E402

SPLITS = ('train', 'val', 'test')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Check a config's datasets: files, frame counts, labels, flip maps.")
    parser.add_argument('config', help='the config whose datasets are checked')
    parser.add_argument('--split', nargs='+', choices=SPLITS, default=list(SPLITS),
                        help='the {split}_dataloader datasets to check (default: all three)')
    parser.add_argument('--decode', action='store_true',
                        help='decode every frame too, to find damaged but openable files')
    add_cfg_options(parser)
    return parser.parse_args(argv)


@exit_on_entry_error
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    check_config(args.config)
    reports = check_datasets(load_config(args.config, args.cfg_options), args.split, args.decode,
                             progress=tqdm)
    problems = [(report.split, problem) for report in reports for problem in report.problems]
    if problems:
        print(f'{len(problems)} problem(s) in the datasets of {args.config}:')
        for split, problem in problems:
            print(f'  {split}: {problem}')
        return 1
    for report in reports:
        print(f'{report.split}: {report.num_samples} samples, '
              f'{len(report.classes)} classes used, OK')
    return 0


if __name__ == '__main__':
    sys.exit(main())
