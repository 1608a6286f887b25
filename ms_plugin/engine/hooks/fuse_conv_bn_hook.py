"""``FuseConvBNHook``: the ``--fuse-conv-bn`` deploy step of ``tools/test.py``."""
from mmaction.registry import HOOKS
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ...models.fuse_conv_bn import fuse_conv_bn

__all__ = ['FuseConvBNHook']


@HOOKS.register_module()
class FuseConvBNHook(Hook):
    """Fold the model's BatchNorms into its convs before testing.

    ``before_test`` runs after the runner has loaded the checkpoint, so the
    folded statistics are the trained ones. See
    :func:`~ms_plugin.models.fuse_conv_bn.fuse_conv_bn`.
    """

    priority = 'VERY_HIGH'

    def before_test(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model.eval()
        fuse_conv_bn(model)
        runner.logger.info('FuseConvBNHook: BatchNorms folded into their convs for testing.')
