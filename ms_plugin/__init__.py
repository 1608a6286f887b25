"""MotionSqueeze (Kwon et al., ECCV 2020) as an MMAction2 plugin.

``import ms_plugin`` (or ``custom_imports = dict(imports=['ms_plugin'])`` in a
config) first checks and fixes the installed stack (:mod:`ms_plugin.compat`),
then registers the plugin's models in ``mmaction.registry.MODELS``, its hooks
in ``HOOKS`` and its transforms in ``TRANSFORMS``.
"""
from . import compat

compat.check_versions()
compat.apply_all()

from . import models, ops  # noqa: E402,F401  (registration needs the fixes first)
from . import engine  # noqa: E402,F401  (hooks)
from .datasets import transforms  # noqa: E402,F401  (registered transforms)
from .version import __version__  # noqa: E402

__all__ = ['compat', 'engine', 'models', 'ops', '__version__']
