#!/usr/bin/env python
"""Check a config's datasets before a long job: files, frame counts, labels, flip maps.

For each split: the annotation files exist; every video opens (decord) and
every frame folder holds the frames of ``filename_tmpl`` its list line says;
the labels and every ``Flip`` step's ``flip_label_map`` lie within
``model.cls_head.num_classes``. ``--decode`` also decodes every frame and
reports damaged but openable files (FFmpeg's errors, or fewer frames than the
header declares). Each distinct file is probed once, by ``--nproc`` processes;
each problem is printed once with every split and list line it occurs on,
then a summary by kind. Exit status: 0 all is well, 1 problems found,
2 a refused input, 130 interrupted (Ctrl-C; what was found so far is printed
and written).

Examples::

    python tools/data/check_dataset.py configs/msnet_r50_sthv1.py
    python tools/data/check_dataset.py configs/msnet_r50_sthv2.py --split val --decode \\
        --out-dir checked/
"""
import sys
from typing import List, Optional

import ms_plugin  # noqa: F401  (the stack fixes, and the plugin registered)

from tqdm import tqdm

from ms_plugin.apis import load_config
from ms_plugin.cli import add_cfg_options, check_config, run_tool, tool_parser
from ms_plugin.datasets.check_files import (SPLITS, check_datasets, clean_list_paths,
                                            default_nproc, write_out_dir)
from ms_plugin.datasets.walk import annotation_files

PROBLEMS_STATUS, INTERRUPTED_STATUS = 1, 130


def main(argv: Optional[List[str]] = None) -> int:
    parser = tool_parser(__doc__)
    parser.add_argument('config', help='the config whose datasets are checked')
    parser.add_argument('--split', nargs='+', choices=SPLITS, default=list(SPLITS),
                        help='the {split}_dataloader datasets to check (default: all three)')
    parser.add_argument('--decode', action='store_true',
                        help='decode every frame too, to find damaged but openable files')
    parser.add_argument('--nproc', type=int, default=default_nproc(),
                        help='processes that open and decode (default: all cores, here '
                        '%(default)s)')
    parser.add_argument('--out-dir', help='write the problems here (problems.jsonl, one JSON '
                        'object a line) and a cleaned copy of each list without its bad lines')
    add_cfg_options(parser)
    args = parser.parse_args(argv)
    check_config(args.config)
    cfg = load_config(args.config, args.cfg_options)
    lists = [f for _, f in annotation_files(cfg, [f'{s}_dataloader' for s in args.split])]
    if args.out_dir:
        clean_list_paths(lists, args.out_dir)  # refuses to overwrite a list, before any work
    try:
        report = check_datasets(cfg, args.split, args.decode, max(1, args.nproc), progress=tqdm)
    except KeyboardInterrupt:
        print('interrupted before any file was checked', file=sys.stderr)
        return INTERRUPTED_STATUS
    done = (f'interrupted: {len(report.problems)} problem(s) found so far'
            if report.interrupted else f'{len(report.problems)} problem(s)')
    if report.problems or report.interrupted:
        print(f'{done} in the datasets of {args.config} ({report.files} files and folders):')
        for problem in report.problems:
            print(f'  [{problem.kind}] {problem}')
        if report.problems:
            print(f'summary: {report.summary()}')
    else:
        for split, samples in report.samples.items():
            print(f'{split}: {samples} samples, {len(report.classes[split])} classes used, OK')
    if args.out_dir:
        for path in write_out_dir(report, lists, args.out_dir):
            print(f'wrote {path}')
    if report.interrupted:
        return INTERRUPTED_STATUS
    return PROBLEMS_STATUS if report.problems else 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
