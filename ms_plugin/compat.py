"""Version checks and fixes for the supported stacks, applied on ``import ms_plugin``.

The one place that knows how the stacks differ (torch 2.1.2 to 2.14, Python
3.8 to 3.13). :func:`check_versions` refuses an unsupported torch or mmcv in
one line. Each fix does nothing where the package is already right, and
:func:`apply_all` is idempotent:

1. mmaction2 1.2.0's wheel lacks ``models/localizers/drn`` (mmaction2#2714):
   a stand-in ``DRN`` is registered that raises a clear error when built.
2. torch >= 2.6 loads with ``weights_only=True``, which mmengine <= 0.10.7's
   own checkpoints fail: the classes they pickle (``HistoryBuffer``, numpy,
   ``Counter``) are allow-listed for the safe unpickler only (torch < 2.4 has
   no allow-list: :func:`load_weights_only_kwargs`).
3. ``persistent_workers`` is dropped for a loader without workers (PyTorch
   refuses the pair; ``num_workers=0`` is the CPU and debugging setting).
4. Warnings no user can act on (mmcv-lite's missing compiled op, setuptools'
   ``pkg_resources`` deprecation) are filtered before mmengine is imported.
"""
import warnings

# (message regex, category) of the stack's warnings filtered out (fix 4).
STACK_WARNINGS = (
    (r'Fail to import ``MultiScaleDeformableAttention``', UserWarning),
    (r'pkg_resources is deprecated as an API', UserWarning),
    (r'pkg_resources is deprecated as an API', DeprecationWarning),
    (r'Deprecated call to `pkg_resources\.declare_namespace', DeprecationWarning),
)
for _message, _category in STACK_WARNINGS:
    warnings.filterwarnings('ignore', message=_message, category=_category)

import collections
import copy
import importlib.util
import os.path as osp
import pickle
import sys
import types
from typing import List

import mmengine
import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.utils import digit_version

try:  # numpy >= 2
    from numpy._core import multiarray
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray

__all__ = ['apply_all', 'check_versions', 'patch_missing_drn', 'allow_mmengine_checkpoints',
           'allow_zero_workers', 'load_weights_only_kwargs', 'mmengine_checkpoint_safe_globals',
           'TORCH_RANGE', 'MMCV_RANGE']

# The tested ranges, [lowest, first excluded) as in setup.cfg.
TORCH_RANGE = ('2.1.2', '2.15')
MMCV_RANGE = ('2.0.0rc4', '2.2.0')

_DRN_MODULES = ('mmaction.models.localizers.drn', 'mmaction.models.localizers.drn.drn')
_DRN_MESSAGE = (
    'DRN is not available: the mmaction2 1.2.0 package on PyPI ships without '
    '`mmaction/models/localizers/drn` (open-mmlab/mmaction2#2714). ms_plugin '
    'registers this stand-in so that `import mmaction.models` works. To use DRN, '
    'install mmaction2 from source (git clone open-mmlab/mmaction2 && pip install -e .).')


def _range_text(package: str, bounds: tuple) -> str:
    return f"'{package}>={bounds[0]},<{bounds[1]}'"


def check_versions(torch_version: str = None, mmcv_version: str = None) -> None:
    """Refuse, in one line, a torch older than the tested range or an mmcv mmaction2 rejects.

    A torch newer than the tested range only gets a warning: it has not been
    tested, but nothing is known to break.

    Args:
        torch_version (str, optional): Defaults to the installed one.
        mmcv_version (str, optional): Defaults to the installed one (mmcv
            or mmcv-lite; not checked if neither is installed).

    Raises:
        ImportError: With the installed version and the supported range.
    """
    torch_version = torch_version or torch.__version__
    if digit_version(torch_version) < digit_version(TORCH_RANGE[0]):
        raise ImportError(
            f'ms_plugin needs torch {TORCH_RANGE[0]} or newer (tested: '
            f'{_range_text("torch", TORCH_RANGE)}), but torch {torch_version} is installed; '
            f'install a supported one, e.g. pip install {_range_text("torch", TORCH_RANGE)}.')
    if digit_version(torch_version) >= digit_version(TORCH_RANGE[1]):
        warnings.warn(f'ms_plugin is tested with {_range_text("torch", TORCH_RANGE)}; torch '
                      f'{torch_version} is newer and untested.', stacklevel=2)
    if mmcv_version is None and importlib.util.find_spec('mmcv') is not None:
        import mmcv  # here: optional (mmcv or mmcv-lite), and checked before mmaction loads it
        mmcv_version = mmcv.__version__
    if mmcv_version is not None and not (
            digit_version(MMCV_RANGE[0]) <= digit_version(mmcv_version)
            < digit_version(MMCV_RANGE[1])):
        raise ImportError(
            f'mmaction2 1.2 (and so ms_plugin) needs {_range_text("mmcv", MMCV_RANGE)}, but '
            f'mmcv {mmcv_version} is installed; install mmcv-lite==2.1.0 (CPU, no compiled '
            'ops) or a full mmcv 2.1.x build for your torch and CUDA.')


def load_weights_only_kwargs() -> dict:
    """Keyword arguments of ``torch.load`` that read an MMEngine checkpoint safely.

    torch >= 2.4 has ``add_safe_globals``, so :func:`allow_mmengine_checkpoints`
    can let ``weights_only=True`` read what MMEngine pickles; older torch has
    no allow-list, and its safe unpickler refuses numpy arrays and
    HistoryBuffers: there, MMEngine checkpoints can only be read with
    ``weights_only=False``, which is what torch < 2.6 does by default.
    """
    return dict(weights_only=hasattr(torch.serialization, 'add_safe_globals'))


def _drn_is_missing() -> bool:
    """True when mmaction is installed but its DRN sub-package is not.

    Looks at the file system only: importing ``mmaction.models.localizers`` to
    find out would trigger the very error this works around.
    """
    spec = importlib.util.find_spec('mmaction')
    if spec is None or not spec.submodule_search_locations:
        return False
    root = list(spec.submodule_search_locations)[0]
    localizers = osp.join(root, 'models', 'localizers')
    return osp.isdir(localizers) and not osp.isdir(osp.join(localizers, 'drn'))


def patch_missing_drn() -> bool:
    """Install a stand-in ``mmaction.models.localizers.drn`` if it is missing.

    Returns:
        bool: Whether the stand-in was installed (False when DRN exists or the
        stand-in is already there).
    """
    if _DRN_MODULES[1] in sys.modules or not _drn_is_missing():
        return False
    # Imported here, after check_versions: mmaction asserts its mmcv version on
    # import. The registry is safe to import: it does not import the models.
    from mmaction.registry import MODELS

    class DRN(torch.nn.Module):
        """Stand-in for mmaction2's DRN localizer, absent from its 1.2.0 wheel."""

        def __init__(self, *args, **kwargs):
            raise ImportError(_DRN_MESSAGE)

    package = types.ModuleType(_DRN_MODULES[0])
    package.__path__ = []  # a package, so that `from .drn.drn import DRN` resolves
    module = types.ModuleType(_DRN_MODULES[1])
    module.DRN = DRN
    module.__doc__ = _DRN_MESSAGE
    package.drn = module
    if 'DRN' not in MODELS.module_dict:
        MODELS.register_module(module=DRN)
    sys.modules[_DRN_MODULES[0]] = package
    sys.modules[_DRN_MODULES[1]] = module
    return True


def _history_buffer_getattr(obj, name):
    """``getattr`` for the safe unpickler, limited to HistoryBuffer's public methods."""
    if (isinstance(obj, type) and issubclass(obj, HistoryBuffer) and isinstance(name, str)
            and not name.startswith('_') and callable(getattr(obj, name, None))):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'ms_plugin refuses getattr({obj!r}, {name!r}) while loading a checkpoint with '
        'weights_only=True: only public methods of mmengine HistoryBuffer are allowed. '
        'If you trust this file, load it with torch.load(..., weights_only=False).')


def mmengine_checkpoint_safe_globals() -> List[object]:
    """Classes and functions that MMEngine checkpoints pickle besides tensors.

    ``meta['message_hub']`` holds :class:`~mmengine.logging.HistoryBuffer`
    objects backed by numpy arrays, and numpy scalars (loss values, lr);
    parameter schedulers hold ``collections.Counter`` milestones.
    """
    safe = [HistoryBuffer, np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar,
            collections.Counter, collections.defaultdict,
            # HistoryBuffer pickles its statistics methods as getattr(HistoryBuffer, 'min'):
            # a getattr limited to that, never the builtin (which would open __globals__).
            (_history_buffer_getattr, 'builtins.getattr')]
    # numpy>=1.25 pickles a dtype as an instance of its own class (np.dtypes.Float64DType).
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        safe.extend(getattr(dtypes, name) for name in dir(dtypes) if name.endswith('DType'))
    return safe


def _mmengine_needs_safe_globals() -> bool:
    torch_needs = digit_version(torch.__version__) >= digit_version('2.6.0')
    # Fixed upstream after 0.10.7 (open-mmlab/mmengine#1670): load with weights_only=False.
    mmengine_broken = digit_version(mmengine.__version__) <= digit_version('0.10.7')
    return torch_needs and mmengine_broken and hasattr(torch.serialization, 'add_safe_globals')


def allow_mmengine_checkpoints() -> bool:
    """Let ``torch.load(weights_only=True)`` read checkpoints MMEngine writes.

    Returns:
        bool: Whether the allow-list was extended.
    """
    if not _mmengine_needs_safe_globals():
        return False
    torch.serialization.add_safe_globals(mmengine_checkpoint_safe_globals())
    return True


def allow_zero_workers() -> bool:
    """Let ``Runner.build_dataloader`` take ``num_workers=0`` with ``persistent_workers=True``.

    Returns:
        bool: Whether the Runner was patched now (False when already done).
    """
    from mmengine.runner import Runner

    build = Runner.build_dataloader
    if getattr(build, '_ms_plugin_zero_workers', False):
        return False

    def build_dataloader(dataloader, *args, **kwargs):
        if (isinstance(dataloader, dict) and dataloader.get('persistent_workers')
                and not dataloader.get('num_workers')):
            dataloader = copy.copy(dataloader)
            dataloader['persistent_workers'] = False
        return build(dataloader, *args, **kwargs)

    build_dataloader._ms_plugin_zero_workers = True
    Runner.build_dataloader = staticmethod(build_dataloader)
    return True


def apply_all() -> dict:
    """Apply every fix; returns which ones changed something."""
    return dict(drn=patch_missing_drn(), weights_only=allow_mmengine_checkpoints(),
                zero_workers=allow_zero_workers())
