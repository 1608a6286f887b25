"""Convert a checkpoint of the authors' MotionSqueeze code (arunos728/MotionSqueeze)
into an MMEngine checkpoint for ms_plugin.

The source is what the reference training script (github arunos728/MotionSqueeze)
saves: ``{'epoch', 'arch', 'state_dict', 'best_prec1'}`` with DataParallel keys
``module.base_model.*`` and ``module.new_fc.*``. The output,
``{'state_dict': ..., 'meta': ...}``, loads with ``strict=True`` into an MSNet
config of this plugin with the same depth and class count (the key mapping is
in :mod:`ms_plugin.utils.official_ckpt`). A reference TSM checkpoint (no MS
parts) converts the same way, for a plain TSM config.

With ``--config`` the tool builds that model, takes its key names from it,
and refuses to write unless every tensor matches (names and shapes); without
it, the default MSNet layout is assumed (MS module at ``backbone.ms_layer2``).

Examples::

    python tools/convert_official_ckpt.py ms_sthv1_epoch_40.pth.tar msnet_r50_sthv1.pth \\
        --config configs/msnet_r50_sthv1.py
    python tools/test.py configs/msnet_r50_sthv1.py msnet_r50_sthv1.pth
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, Optional

import torch

import ms_plugin  # noqa: F401  (compat fixes: safe loading of numpy scalars in the source)
from ms_plugin.apis import build_recognizer
from ms_plugin.cli import (add_cfg_options, check_config, check_input, check_output_file,
                           run_tool, tool_parser)
from ms_plugin.utils.checkpoint import read_checkpoint
from ms_plugin.utils.errors import InputError
from ms_plugin.utils.official_ckpt import (DEFAULT_MS_PREFIX, ConversionReport,
                                           convert_reference_state_dict, describe_reference,
                                           iter_model_prefixes, reconcile_with_model)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = tool_parser(__doc__)
    parser.add_argument('src', help='checkpoint written by the reference code')
    parser.add_argument('dst', help='where to write the converted checkpoint (.pth)')
    parser.add_argument(
        '--config', help='a config of this plugin to check against: the tool builds its '
        'model, uses its key names and writes only if every key and shape matches')
    add_cfg_options(parser)
    parser.add_argument(
        '--ms-prefix', default=DEFAULT_MS_PREFIX,
        help='where the MotionSqueeze module lives in the model (without --config). '
        f'Defaults to {DEFAULT_MS_PREFIX}')
    parser.add_argument('--force', action='store_true',
                        help='write even if some keys did not match (not loadable strictly)')
    return parser.parse_args(argv)


def load_reference(path: str) -> Dict[str, object]:
    """Read the source safely (``weights_only=True``); accept a bare state dict too."""
    try:
        ckpt = read_checkpoint(path)
    except InputError as err:
        raise InputError(f'cannot read {err}\nThe reference checkpoints hold only tensors, '
                         'numbers and strings; a file that needs more is not one of them (or '
                         'is damaged).') from err
    if 'state_dict' not in ckpt:
        if all(isinstance(v, torch.Tensor) for v in ckpt.values()):
            return dict(state_dict=ckpt)
        raise InputError(f'{path} has no "state_dict" entry (keys: {sorted(ckpt)}).')
    return ckpt


def _plain(value):
    """Numbers for the meta dict (the source may hold tensors or numpy scalars)."""
    if hasattr(value, 'item'):
        return value.item()
    return value


def build_model_state(config: str, cfg_options: Optional[dict]) -> Dict[str, torch.Tensor]:
    """The state_dict of ``config``'s model (random weights): its key names and shapes."""
    model, _ = build_recognizer(config, cfg_options=cfg_options, warn_random=False)
    return model.state_dict()


def convert(src: str, dst: str, config: Optional[str] = None,
            cfg_options: Optional[dict] = None, ms_prefix: str = DEFAULT_MS_PREFIX,
            force: bool = False) -> ConversionReport:
    """Convert ``src`` to ``dst``; returns the report (raises InputError on failure)."""
    ckpt = load_reference(src)
    source_state = ckpt['state_dict']
    info = describe_reference(source_state)
    print(f'source: ResNet-{info["depth"] or "?"} (blocks {info["blocks"]}), '
          f'MotionSqueeze: {"yes" if info["motion_squeeze"] else "no"}, '
          f'classes: {info["num_classes"]}')
    model_state = None
    if config:
        model_state = build_model_state(config, cfg_options)
        prefixes = iter_model_prefixes(model_state, '.reduce.conv.weight')
        if len(prefixes) == 1:
            ms_prefix = prefixes[0]
    state, report = convert_reference_state_dict(source_state, ms_prefix=ms_prefix)
    if model_state is not None:
        state, report = reconcile_with_model(state, model_state, report)
    for line in report.lines():
        print(line)
    if not report.ok and not force:
        hint = ''
        if report.shape_mismatch and 'cls_head.fc_cls.weight' in report.shape_mismatch:
            hint = ('\nThe class counts differ: pass --cfg-options '
                    f'model.cls_head.num_classes={info["num_classes"]} or a matching config.')
        raise InputError(f'{src} does not match the expected layout; nothing written '
                         f'(--force writes anyway).{hint}')
    meta = dict(
        converted_from=osp.basename(src),
        source='MotionSqueeze reference code (github arunos728/MotionSqueeze)',
        converter=f'ms_plugin {ms_plugin.__version__} tools/convert_official_ckpt.py',
        depth=info['depth'], num_classes=info['num_classes'])
    for key in ('epoch', 'arch', 'best_prec1'):
        if key in ckpt:
            meta[key] = _plain(ckpt[key])
    if config:
        meta['config'] = config
    torch.save(dict(state_dict=state, meta=meta), dst)
    print(f'wrote {dst} ({len(state)} tensors)')
    return report


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    check_input(args.src, 'source checkpoint')
    if args.config:
        check_config(args.config)
    check_output_file(args.dst)
    convert(args.src, args.dst, args.config, args.cfg_options, args.ms_prefix, args.force)
    return 0


if __name__ == '__main__':
    sys.exit(run_tool(main))
