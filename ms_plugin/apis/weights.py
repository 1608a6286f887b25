"""Where pretrained weights come from, and where they go on a machine without internet.

A config names ImageNet weights by a scheme (``torchvision://resnet50``,
``mmcls://mobilenet_v2``, ``open-mmlab://...``) or a URL. MMEngine resolves it
to a URL and downloads the file once into PyTorch's hub cache,
``$TORCH_HOME/hub/checkpoints/<file name>`` (``~/.cache/torch`` when
``TORCH_HOME`` is unset), and reads it from there afterwards without any
network access. So, offline, copy the file there, under the name of the URL
(:func:`offline_weights_path` says which), or point the config at a local
file (``model.backbone.pretrained=/path/to/weights.pth``).
"""
import os.path as osp
from typing import Optional
from urllib.parse import urlparse

import torch.hub
from mmengine.runner.checkpoint import (get_external_models, get_mmcls_models,
                                        get_torchvision_models)

__all__ = ['pretrained_url', 'offline_weights_path']

_SCHEMES = (('torchvision://', get_torchvision_models), ('modelzoo://', get_torchvision_models),
            ('mmcls://', get_mmcls_models), ('open-mmlab://', get_external_models),
            ('openmmlab://', get_external_models))


def pretrained_url(spec: str) -> Optional[str]:
    """The URL MMEngine downloads for ``spec``; None for a local path or an unknown name."""
    if spec.startswith(('http://', 'https://')):
        return spec
    for prefix, models in _SCHEMES:
        if spec.startswith(prefix):
            url = models().get(spec[len(prefix):])
            return url if url and url.startswith(('http://', 'https://')) else None
    return None


def offline_weights_path(spec: str) -> Optional[str]:
    """Where the file for ``spec`` must lie so that loading it needs no network.

    Args:
        spec (str): A config's ``pretrained`` value, e.g. ``'torchvision://resnet50'``.

    Returns:
        str, optional: ``<torch hub dir>/checkpoints/<file name of the URL>``,
        or None when ``spec`` is not downloaded (a local file).
    """
    url = pretrained_url(spec)
    if url is None:
        return None
    return osp.join(torch.hub.get_dir(), 'checkpoints', osp.basename(urlparse(url).path))
