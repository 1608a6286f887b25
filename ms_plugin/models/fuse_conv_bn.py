"""Deploy step: fold BatchNorms into the convolutions before them, for inference."""
from typing import Optional

import torch.nn as nn
from mmaction.models.backbones.resnet_tsm import TemporalShift
from torch.nn.utils.fusion import fuse_conv_bn_weights


__all__ = ['fuse_conv_bn']

# Exactly these types: subclasses may do more than normalise (timm's
# BatchNormAct2d also applies its activation) and must not become Identity.
_PLAIN_NORMS = (nn.BatchNorm2d, nn.SyncBatchNorm)
# Convs that compute nothing but the convolution (with the bias fusing adds).
_CONVS = (nn.Conv2d, )


def _conv_of(module: nn.Module) -> Optional[nn.Conv2d]:
    """The conv whose output ``module`` returns: itself, or a TSM-shifted conv's."""
    if type(module) in _CONVS:
        return module
    if isinstance(module, TemporalShift) and type(module.net) in _CONVS:
        return module.net  # shift, then the conv
    return None


def fuse_conv_bn(model: nn.Module) -> nn.Module:
    """Fold every BatchNorm that directly follows a conv into that conv, in place.

    As mmcv's ``fuse_conv_bn``: within each module, a BatchNorm child that
    comes right after a ``Conv2d`` child (in
    registration order, as in ``ConvModule``, ResNet blocks and the MS
    module) is folded into the conv's weight and bias with its running
    statistics, and replaced by ``nn.Identity``. Unlike it, only plain
    ``BatchNorm2d``/``SyncBatchNorm`` are folded, a conv behind MMAction2's
    ``TemporalShift`` is folded too, and each conv stays the same object, so
    code run around its forward (the temporal shift of ``TimmTSM_MS``) keeps
    running.

    The result equals the unfused model in eval mode, up to float rounding;
    it cannot be trained any more. Use it for testing and deployment
    (``tools/test.py --fuse-conv-bn``).

    Args:
        model (nn.Module): The model, in eval mode.

    Returns:
        nn.Module: ``model`` itself.
    """
    if model.training:
        raise RuntimeError('fuse_conv_bn folds the BatchNorms\' running statistics, which is '
                           'only right in eval mode: call model.eval() first.')
    last_conv = None
    for name, child in model.named_children():
        if type(child) in _PLAIN_NORMS and last_conv is not None and child.track_running_stats:
            weight, bias = fuse_conv_bn_weights(
                last_conv.weight, last_conv.bias, child.running_mean, child.running_var,
                child.eps, child.weight, child.bias)
            last_conv.weight, last_conv.bias = weight, bias
            model._modules[name] = nn.Identity()
            last_conv = None
        elif _conv_of(child) is not None:
            last_conv = _conv_of(child)
        else:
            last_conv = None
            fuse_conv_bn(child)
    return model
