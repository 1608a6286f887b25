"""Checkpoint files: the one safe reader, key comparison, resume choice, publishing.

Reading is safe where torch can read MMEngine checkpoints safely
(``weights_only=True`` from torch 2.4, with :mod:`ms_plugin.compat`'s
allow-list; older torch reads them as MMEngine itself does) and every failure
is one :class:`~ms_plugin.utils.errors.InputError` that names the file and
what is wrong with it: missing, empty, truncated or otherwise not a torch
file, refused by the safe unpickler, or not a checkpoint dict.
"""
import glob
import hashlib
import os
import os.path as osp
import re
import tempfile
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from mmengine.runner.checkpoint import _load_checkpoint

from .. import compat
from .errors import InputError

__all__ = ['read_checkpoint', 'model_state_dict', 'resumable_checkpoints',
           'newest_readable_checkpoint', 'StateDictMismatch', 'compare_state_dicts',
           'state_dict_mismatch',
           'load_weights', 'strip_checkpoint', 'publish_checkpoint']

KEYS_SHOWN = 8  # keys listed in a mismatch message before "and N more"
# meta entries worth publishing; everything else in meta is training state or private.
KEPT_META = ('epoch', 'iter', 'mmengine_version', 'dataset_meta',
             # written by tools/convert_official_ckpt.py
             'source', 'converted_from', 'arch', 'best_prec1', 'depth', 'num_classes')
HASH_CHARS = 8  # hex digits of the SHA-256 in a published file's name


def _unreadable(path: str, problem: str) -> InputError:
    return InputError(f'checkpoint {path}: {problem}')


def _detail(err: Exception) -> str:
    """The informative part of a loading error (torch wraps it in boilerplate)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if lines and lines[0].startswith('Weights only load failed'):
        lines = [line for line in lines[1:] if not line.startswith('Check the documentation')]
    return f'{type(err).__name__}: {lines[0] if lines else "no message"}'


def _why_unreadable(err: Exception) -> str:
    text = str(err)
    if 'GLOBAL' in text or 'Unsupported global' in text:
        return ('refused by the safe unpickler (torch.load(weights_only=True)): it holds '
                'objects that an MMEngine checkpoint does not. Load it with '
                f'weights_only=False only if you trust the file. ({_detail(err)})')
    if 'zip archive' in text or 'central directory' in text or isinstance(err, EOFError):
        return f'truncated or corrupt: not a complete torch checkpoint ({_detail(err)})'
    return f'unreadable: not a torch checkpoint, or a damaged one ({_detail(err)})'


def read_checkpoint(path: str, map_location: str = 'cpu') -> Dict[str, object]:
    """Load a checkpoint dict safely, or raise one clear error naming the file.

    Args:
        path (str): A local file, or a URL (``http(s)://``, ``torchvision://``,
            ...) handed to MMEngine's loader.
        map_location (str): Where tensors go. Defaults to ``'cpu'``.

    Returns:
        dict: The checkpoint.

    Raises:
        InputError: Missing, empty, truncated or corrupt file; a file the
            safe unpickler refuses; or one that holds no dict.
    """
    if '://' in path:
        try:
            checkpoint = _load_checkpoint(path, map_location=map_location)
        except Exception as err:  # network and format errors of many types
            raise _unreadable(path, _why_unreadable(err)) from err
    else:
        if not osp.isfile(path):
            raise _unreadable(path, 'no such file')
        if osp.getsize(path) == 0:
            raise _unreadable(path, 'the file is empty (0 bytes)')
        try:
            checkpoint = torch.load(path, map_location=map_location,
                                    **compat.load_weights_only_kwargs())
        except Exception as err:  # the unpickler and zip reader raise many types
            raise _unreadable(path, _why_unreadable(err)) from err
    if not isinstance(checkpoint, dict):
        raise _unreadable(path, f'holds a {type(checkpoint).__name__}, not a checkpoint '
                              'dict')
    return checkpoint


def model_state_dict(checkpoint: Mapping) -> Dict[str, object]:
    """The weights of a checkpoint, with DataParallel's ``module.`` prefix removed.

    A dict without ``state_dict`` is taken as the weights themselves.
    """
    state = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state, Mapping):
        raise InputError('the checkpoint holds no state_dict')
    return {re.sub(r'^module\.', '', key): value for key, value in state.items()}


# ------------------------------------------------------------ automatic resume
def resumable_checkpoints(work_dir: str) -> List[str]:
    """Checkpoints of ``work_dir`` a resume may start from, newest first.

    The one ``last_checkpoint`` names comes first, then ``epoch_*.pth`` and
    ``iter_*.pth`` by modification time (``best_*`` files are not resume points).
    """
    ordered = []
    marker = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(marker):
        with open(marker) as file:
            named = file.read().strip()
        if named:
            ordered.append(named)
    files = glob.glob(osp.join(work_dir, 'epoch_*.pth')) + glob.glob(
        osp.join(work_dir, 'iter_*.pth'))
    for path in sorted(files, key=lambda p: (osp.getmtime(p), p), reverse=True):
        if not any(osp.abspath(path) == osp.abspath(seen) for seen in ordered):
            ordered.append(path)
    return ordered


def newest_readable_checkpoint(
        work_dir: str) -> Tuple[Optional[str], List[InputError]]:
    """The newest checkpoint of ``work_dir`` that reads, and why newer ones did not.

    Returns:
        tuple: ``(path or None, [the error of each newer file])``;
        ``(None, [])`` when the folder holds no checkpoint.
    """
    failures = []
    for path in resumable_checkpoints(work_dir):
        try:
            read_checkpoint(path)
        except InputError as err:
            failures.append(err)
            continue
        return path, failures
    return None, failures


# ------------------------------------------------------------- key matching
class StateDictMismatch:
    """How a checkpoint's weights differ from a model's.

    Attributes:
        missing (list[str]): The model's keys the checkpoint lacks.
        unexpected (list[str]): The checkpoint's keys the model lacks.
        shapes (dict[str, tuple]): key -> (checkpoint shape, model shape).
    """

    def __init__(self, missing: List[str], unexpected: List[str],
                 shapes: Dict[str, Tuple[tuple, tuple]]) -> None:
        self.missing, self.unexpected, self.shapes = missing, unexpected, shapes

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.shapes)

    def describe(self, path: str) -> str:
        """Lines naming ``path`` and listing the differences."""
        lines = [f'checkpoint {path} does not match the model of the config:']
        for title, keys in (('missing keys', self.missing),
                            ('unexpected keys', self.unexpected),
                            ('shape mismatches (checkpoint vs model)',
                             [f'{key} {given} vs {own}' for key, (given, own) in self.shapes.items()])):
            if keys:
                shown = ', '.join(keys[:KEYS_SHOWN])
                more = f' and {len(keys) - KEYS_SHOWN} more' if len(keys) > KEYS_SHOWN else ''
                lines.append(f'  {title} ({len(keys)}): {shown}{more}')
        return '\n'.join(lines)


def compare_state_dicts(own: Mapping, given: Mapping) -> StateDictMismatch:
    """How the tensors ``given`` differ from a model's own ``state_dict()``, key by key.

    The one comparison of weights with a model: loading a checkpoint, the
    authors' converted weights, a 2D backbone's pretrained file.
    """
    missing = sorted(set(own) - set(given))
    unexpected = sorted(set(given) - set(own))
    shapes = {key: (tuple(given[key].shape), tuple(own[key].shape))
              for key in sorted(set(own) & set(given))
              if hasattr(given[key], 'shape') and given[key].shape != own[key].shape}
    return StateDictMismatch(missing, unexpected, shapes)


def state_dict_mismatch(model: torch.nn.Module, checkpoint: Mapping) -> StateDictMismatch:
    """Compare a checkpoint's weights with ``model.state_dict()``."""
    return compare_state_dicts(model.state_dict(), model_state_dict(checkpoint))


def load_weights(model: torch.nn.Module, checkpoint: Mapping, source: str) -> None:
    """Load a checkpoint's weights into ``model``; every key and shape must fit.

    Args:
        model (nn.Module): The built model.
        checkpoint (Mapping): A loaded checkpoint: MMEngine's (weights under
            ``state_dict``) or a bare state dict.
        source (str): The file name, for the error message.

    Raises:
        InputError: Listing the missing and unexpected keys (and keys of
            another shape) when the checkpoint does not fit the model.
    """
    mismatch = state_dict_mismatch(model, checkpoint)
    if mismatch:
        raise InputError(mismatch.describe(source))
    model.load_state_dict(model_state_dict(checkpoint), strict=True)


# ------------------------------------------------------------------- publishing
def strip_checkpoint(checkpoint: Dict[str, object]) -> Dict[str, object]:
    """``{'state_dict', 'meta'}`` with only the :data:`KEPT_META` entries of meta.

    Drops the optimizer, the parameter schedulers, the message hub and the
    rest of ``meta`` (the full config text, seed, time, experiment name).

    Raises:
        InputError: If ``checkpoint`` has no ``state_dict``.
    """
    if 'state_dict' not in checkpoint:
        raise InputError(f'no "state_dict" in the checkpoint (keys: {sorted(checkpoint)}); '
                         'publishing takes checkpoints written by MMEngine.')
    meta = checkpoint.get('meta') or {}
    state_dict = {key: value.detach().cpu() if isinstance(value, torch.Tensor) else value
                  for key, value in checkpoint['state_dict'].items()}
    return dict(state_dict=state_dict, meta={key: meta[key] for key in KEPT_META if key in meta})


def publish_checkpoint(in_file: str, out_file: str) -> str:
    """Write ``in_file`` stripped as ``<out_file without .pth>-<sha256[:8]>.pth``.

    The file is written next to the target, hashed, then renamed, with the
    permissions a new file gets (the umask's), so others can read it.

    Args:
        in_file (str): A checkpoint written by MMEngine.
        out_file (str): The output name; ``.pth`` is optional.

    Returns:
        str: The path written.

    Raises:
        InputError: If ``in_file`` cannot be read or has no ``state_dict``.
    """
    stripped = strip_checkpoint(read_checkpoint(in_file))
    stem = out_file[:-len('.pth')] if out_file.endswith('.pth') else out_file
    folder = osp.dirname(osp.abspath(stem))
    os.makedirs(folder, exist_ok=True)
    handle, tmp_path = tempfile.mkstemp(suffix='.pth', dir=folder)
    os.close(handle)
    try:
        torch.save(stripped, tmp_path)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes it 0600
        digest = hashlib.sha256()
        with open(tmp_path, 'rb') as file:
            for block in iter(lambda: file.read(1 << 20), b''):
                digest.update(block)
        final = f'{stem}-{digest.hexdigest()[:HASH_CHARS]}.pth'
        os.replace(tmp_path, final)
    finally:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
    return final
