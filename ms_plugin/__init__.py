"""MotionSqueeze (Kwon et al., ECCV 2020) as an MMAction2 plugin.

``import ms_plugin`` (or ``custom_imports = dict(imports=['ms_plugin'])`` in a
config) first absorbs the pinned stack's defects (:mod:`ms_plugin.compat`),
then registers the plugin's models in ``mmaction.registry.MODELS``.
"""
from . import compat

compat.apply_all()

from . import models, ops  # noqa: E402,F401  (registration needs the fixes first)
from .version import __version__  # noqa: E402

__all__ = ['compat', 'models', 'ops', '__version__']
