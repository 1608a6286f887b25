"""Strip a training checkpoint for release and name it after its SHA-256.

Keeps ``state_dict`` (unchanged, so the model loads it with ``strict=True``)
and a few ``meta`` entries (epoch, iteration, versions, the dataset's classes,
where a converted checkpoint came from); drops the optimizer, the parameter
schedulers, the message hub and the rest of ``meta`` (the full config text,
seed, time, experiment name). Writes ``OUT-<first 8 hex of sha256>.pth``.

The input is read with ``torch.load(weights_only=True)``: ``import ms_plugin``
allow-lists the few classes MMEngine checkpoints hold, so nothing else in the
file can run code.

Example::

    python tools/publish_model.py work_dirs/msnet_r50_sthv1/epoch_40.pth msnet_r50_sthv1
    # -> msnet_r50_sthv1-1a2b3c4d.pth
"""
import argparse
import hashlib
import os
import os.path as osp
import sys
import tempfile
from typing import Dict, List, Optional

import torch

import ms_plugin  # noqa: F401  (safe loading of MMEngine checkpoints on torch>=2.6)
from ms_plugin.apis import check_input, check_output_dir, exit_on_entry_error
from ms_plugin.utils.checkpoint import load_checkpoint_dict

# meta entries worth publishing; everything else in meta is training state or private.
KEPT_META = ('epoch', 'iter', 'mmengine_version', 'dataset_meta',
             # written by tools/convert_official_ckpt.py
             'source', 'converted_from', 'arch', 'best_prec1', 'depth', 'num_classes')
HASH_CHARS = 8


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Keep only the weights and a minimal meta of a checkpoint and write '
        'OUT-<sha256[:8]>.pth.')
    parser.add_argument('in_file', help='checkpoint written by MMEngine (or this plugin\'s tools)')
    parser.add_argument('out_file', help='output name; ".pth" is optional, the hash is appended')
    return parser.parse_args(argv)


def strip_checkpoint(checkpoint: Dict[str, object]) -> Dict[str, object]:
    """``{'state_dict', 'meta'}`` with only the :data:`KEPT_META` entries of meta."""
    if 'state_dict' not in checkpoint:
        raise ValueError(f'no "state_dict" in the checkpoint (keys: {sorted(checkpoint)}); '
                         'publish_model takes checkpoints written by MMEngine.')
    meta = checkpoint.get('meta') or {}
    kept = {key: meta[key] for key in KEPT_META if key in meta}
    state_dict = {key: value.detach().cpu() if isinstance(value, torch.Tensor) else value
                  for key, value in checkpoint['state_dict'].items()}
    return dict(state_dict=state_dict, meta=kept)


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as file:
        for block in iter(lambda: file.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def publish(in_file: str, out_file: str) -> str:
    """Write the stripped checkpoint; returns its final path."""
    checkpoint = load_checkpoint_dict(
        in_file, 'MMEngine checkpoints load once ms_plugin is imported; a file that needs more '
        'classes was not written by MMEngine, or is damaged.')
    try:
        stripped = strip_checkpoint(checkpoint)
    except ValueError as err:
        raise SystemExit(f'error: {in_file}: {err}') from err
    stem = out_file[:-len('.pth')] if out_file.endswith('.pth') else out_file
    folder = osp.dirname(osp.abspath(stem))
    os.makedirs(folder, exist_ok=True)
    # Write next to the target, hash the bytes, then rename: the name is the file's hash.
    handle, tmp_path = tempfile.mkstemp(suffix='.pth', dir=folder)
    os.close(handle)
    try:
        torch.save(stripped, tmp_path)
        final = f'{stem}-{sha256_of(tmp_path)[:HASH_CHARS]}.pth'
        os.replace(tmp_path, final)
    finally:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
    dropped = sorted(set(checkpoint) - {'state_dict', 'meta'})
    print(f'dropped: {", ".join(dropped) if dropped else "nothing besides meta entries"}; '
          f'meta kept: {", ".join(stripped["meta"]) or "none"}')
    print(f'wrote {final} ({osp.getsize(final) / 2**20:.1f} MiB)')
    return final


@exit_on_entry_error
def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    check_input(args.in_file, 'checkpoint')
    check_output_dir(osp.dirname(osp.abspath(args.out_file)), 'output folder')
    publish(args.in_file, args.out_file)
    return 0


if __name__ == '__main__':
    sys.exit(main())
