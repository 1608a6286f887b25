"""Two usability fixes of the stack, applied on ``import ms_plugin`` (see also :mod:`.compat`).

1. :func:`silence_stack_warnings`: three warnings that every tool printed and
   no user can act on: mmcv-lite's "Fail to import MultiScaleDeformableAttention"
   (the plugin needs no compiled op) and setuptools' "pkg_resources is
   deprecated" (raised inside mmengine and mim). Only these messages are
   filtered; every other warning still shows.
2. :func:`allow_zero_workers`: the configs keep workers alive between epochs
   (``persistent_workers=True``), which PyTorch's DataLoader refuses with
   ``num_workers=0``, so ``--cfg-options train_dataloader.num_workers=0`` (the
   CPU and debugging setting) raised ``ValueError`` once per loader. With no
   worker there is nothing to keep alive: the option is dropped for that
   loader.
"""
import copy
import warnings

__all__ = ['silence_stack_warnings', 'allow_zero_workers']

# (message regex, category) of the warnings filtered out.
STACK_WARNINGS = (
    (r'Fail to import ``MultiScaleDeformableAttention``', UserWarning),
    (r'pkg_resources is deprecated as an API', UserWarning),
    (r'pkg_resources is deprecated as an API', DeprecationWarning),
    (r'Deprecated call to `pkg_resources\.declare_namespace', DeprecationWarning),
)


def silence_stack_warnings() -> None:
    """Filter out the stack warnings of :data:`STACK_WARNINGS` (idempotent)."""
    for message, category in STACK_WARNINGS:
        warnings.filterwarnings('ignore', message=message, category=category)


def allow_zero_workers() -> bool:
    """Let ``Runner.build_dataloader`` take ``num_workers=0`` with ``persistent_workers=True``.

    Returns:
        bool: Whether the Runner was patched now (False when already done).
    """
    from mmengine.runner import Runner  # after the warning filters: mmengine imports pkg_resources

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
