"""A training checkpoint stripped for release and named after its SHA-256.

What ``tools/publish_model.py`` runs. :func:`publish_checkpoint` keeps
``state_dict`` (unchanged, so the model loads it with ``strict=True``) and the
:data:`KEPT_META` entries of ``meta``; it drops the optimizer, the parameter
schedulers, the message hub and the rest of ``meta`` (the full config text,
seed, time, experiment name). The input is read with
``torch.load(weights_only=True)`` (:func:`~ms_plugin.utils.checkpoint.load_checkpoint_dict`).
"""
import hashlib
import os
import os.path as osp
import tempfile
from typing import Dict

import torch

from ..utils.checkpoint import load_checkpoint_dict

__all__ = ['KEPT_META', 'HASH_CHARS', 'publish_checkpoint', 'sha256_of', 'strip_checkpoint']

# meta entries worth publishing; everything else in meta is training state or private.
KEPT_META = ('epoch', 'iter', 'mmengine_version', 'dataset_meta',
             # written by tools/convert_official_ckpt.py
             'source', 'converted_from', 'arch', 'best_prec1', 'depth', 'num_classes')
# Hex digits of the SHA-256 in the published file's name.
HASH_CHARS = 8


def strip_checkpoint(checkpoint: Dict[str, object]) -> Dict[str, object]:
    """``{'state_dict', 'meta'}`` with only the :data:`KEPT_META` entries of meta.

    Args:
        checkpoint (dict): A checkpoint written by MMEngine.

    Returns:
        dict: The state dict (tensors on the CPU) and the kept meta entries.

    Raises:
        ValueError: If ``checkpoint`` has no ``state_dict``.
    """
    if 'state_dict' not in checkpoint:
        raise ValueError(f'no "state_dict" in the checkpoint (keys: {sorted(checkpoint)}); '
                         'publish_model takes checkpoints written by MMEngine.')
    meta = checkpoint.get('meta') or {}
    kept = {key: meta[key] for key in KEPT_META if key in meta}
    state_dict = {key: value.detach().cpu() if isinstance(value, torch.Tensor) else value
                  for key, value in checkpoint['state_dict'].items()}
    return dict(state_dict=state_dict, meta=kept)


def sha256_of(path: str) -> str:
    """The SHA-256 of the file ``path``, in hex."""
    digest = hashlib.sha256()
    with open(path, 'rb') as file:
        for block in iter(lambda: file.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def publish_checkpoint(in_file: str, out_file: str) -> str:
    """Write ``in_file`` stripped as ``<out_file without .pth>-<sha256[:8]>.pth``.

    Args:
        in_file (str): A checkpoint written by MMEngine.
        out_file (str): The output name; ``.pth`` is optional.

    Returns:
        str: The path written.

    Raises:
        SystemExit: With one line, if ``in_file`` cannot be read or has no
            ``state_dict``.
    """
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
