"""A stand-in for the authors' MSNet, in their module layout (test-only code).

Written from the paper (Kwon et al., "MotionSqueeze: Neural Motion Feature
Learning for Video Understanding", ECCV 2020, arXiv 2007.09933) and from reading
the authors' public code (https://github.com/arunos728/MotionSqueeze, files
``resnet_TSM.py`` and ``models.py``) for facts (names, order of operations); no
code is taken from them. It exists so that ``tools/convert_official_ckpt.py`` can be
tested end to end without the authors' checkpoints or their CUDA correlation
package: build this model, randomise it, save it the way their training script
does, convert, and compare logits with the plugin's model.

Everything here is deliberately naive and independent of ``ms_plugin.ops``:
the correlation is a loop over the 225 shifts, the soft-argmax spells out the
Gaussian and the expectation.

The layout reproduced (keys after ``module.base_model.``):

* stem ``conv1``/``bn1``, an unused ``bn2`` (BatchNorm of 128 channels);
* ``layerN.M.{conv1,bn1,conv2,bn2[,conv3,bn3]}`` and ``downsample.{0,1}``;
* MS parts ``chnl_reduction.{0,1}`` and ``flow_refinement.conv1..conv4``
  (each a Sequential: depthwise conv, BN, ReLU, 1x1 conv, BN, ReLU);
* ``fc1``: a Dropout when dropout > 0 (the classifier is then the top-level
  ``new_fc``, a Conv1d), else the Conv1d classifier itself.
"""
from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

MAX_DISPLACEMENT = 7
PATCH = 2 * MAX_DISPLACEMENT + 1  # 15 displacements along each axis
SIGMA = 5.0
TEMPERATURE = 100.0
ARCH_SETTINGS = {18: ('basic', (2, 2, 2, 2)), 50: ('bottleneck', (3, 4, 6, 3))}


def temporal_shift(x: torch.Tensor, num_segments: int) -> torch.Tensor:
    """Zero-padded shift: channels [0, C/8) read frame t+1, [C/8, C/4) read t-1."""
    nt, c, h, w = x.shape
    fold = c // 8
    # [N*T, C, H, W] -> [N, T, C, H, W]
    x = x.view(nt // num_segments, num_segments, c, h, w)
    out = torch.zeros_like(x)
    out[:, :-1, :fold] = x[:, 1:, :fold]
    out[:, 1:, fold:2 * fold] = x[:, :-1, fold:2 * fold]
    out[:, :, 2 * fold:] = x[:, :, 2 * fold:]
    # [N, T, C, H, W] -> [N*T, C, H, W]
    return out.view(nt, c, h, w)


class RefBasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, num_segments: int, stride: int = 1,
                 downsample: Optional[nn.Module] = None):
        super().__init__()
        self.num_segments = num_segments
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(temporal_shift(x, self.num_segments))))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class RefBottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, num_segments: int, stride: int = 1,
                 downsample: Optional[nn.Module] = None):
        super().__init__()
        self.num_segments = num_segments
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(temporal_shift(x, self.num_segments))))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


def separable_block(in_ch: int, out_ch: int, kernel: int) -> nn.Sequential:
    """Depthwise conv, BN, ReLU, 1x1 conv, BN, ReLU (indices 0..5), no biases."""
    return nn.Sequential(
        nn.Conv2d(in_ch, in_ch, kernel, padding=kernel // 2, groups=in_ch, bias=False),
        nn.BatchNorm2d(in_ch), nn.ReLU(),
        nn.Conv2d(in_ch, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU())


class RefFlowRefinement(nn.Module):
    """``flow_refinement``: four separable blocks 3 -> 16 -> 32 -> 64 -> C."""

    def __init__(self, out_channels: int):
        super().__init__()
        self.conv1 = separable_block(3, 16, 7)
        self.conv2 = separable_block(16, 32, 3)
        self.conv3 = separable_block(32, 64, 3)
        self.conv4 = separable_block(64, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv4(self.conv3(self.conv2(self.conv1(x))))


def naive_correlation(f1: torch.Tensor, f2: torch.Tensor) -> torch.Tensor:
    """S[:, k, y, x] = <f1(y, x), f2(y+dy, x+dx)>, k = (dy+7)*15 + (dx+7), zero outside."""
    _, _, h, w = f1.shape
    d = MAX_DISPLACEMENT
    padded = F.pad(f2, (d, d, d, d))
    maps: List[torch.Tensor] = []
    for dy in range(-d, d + 1):  # dy is the outer index, as in the reference
        for dx in range(-d, d + 1):
            shifted = padded[:, :, d + dy:d + dy + h, d + dx:d + dx + w]
            maps.append((f1 * shifted).sum(dim=1))
    return torch.stack(maps, dim=1)


def l2_normalize(x: torch.Tensor) -> torch.Tensor:
    return x / (x.pow(2).sum(dim=1, keepdim=True) + 1e-6).sqrt()


def flow_from_correlation(corr: torch.Tensor) -> torch.Tensor:
    """(dx, dy, confidence) [B, 3, H, W] from a ReLU'd correlation [B, 225, H, W]."""
    b, _, h, w = corr.shape
    confidence, best = corr.max(dim=1, keepdim=True)
    best_y = torch.div(best, PATCH, rounding_mode='floor').float()
    best_x = (best % PATCH).float()
    grid = torch.arange(PATCH, dtype=corr.dtype)
    # displacement index k -> (row, column) of the 15x15 grid, dy outer
    ky = grid.view(PATCH, 1).expand(PATCH, PATCH).reshape(1, PATCH * PATCH, 1, 1)
    kx = grid.view(1, PATCH).expand(PATCH, PATCH).reshape(1, PATCH * PATCH, 1, 1)
    gauss = torch.exp(-((kx - best_x)**2 + (ky - best_y)**2) / (2 * SIGMA**2))
    prob = torch.softmax(TEMPERATURE * gauss * corr, dim=1)
    offsets = grid - MAX_DISPLACEMENT
    # [B, 225, H, W] -> [B, 15 (dy), 15 (dx), H, W]
    prob = prob.view(b, PATCH, PATCH, h, w)
    flow_x = (prob.sum(dim=1) * offsets.view(1, PATCH, 1, 1)).sum(dim=1, keepdim=True)
    flow_y = (prob.sum(dim=2) * offsets.view(1, PATCH, 1, 1)).sum(dim=1, keepdim=True)
    return torch.cat([flow_x / MAX_DISPLACEMENT, flow_y / MAX_DISPLACEMENT, confidence], dim=1)


class RefResNetMS(nn.Module):
    """``base_model``: the TSM ResNet with the MS parts after ``layer2``."""

    def __init__(self, depth: int, num_segments: int, num_classes: int, dropout: float):
        super().__init__()
        kind, layers = ARCH_SETTINGS[depth]
        block = RefBottleneck if kind == 'bottleneck' else RefBasicBlock
        self.num_segments = num_segments
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.bn2 = nn.BatchNorm2d(128)  # present in every reference checkpoint, never used
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        ms_channels = 128 * block.expansion
        self.chnl_reduction = nn.Sequential(
            nn.Conv2d(ms_channels, 64, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        self.flow_refinement = RefFlowRefinement(ms_channels)
        for i, (planes, stride) in enumerate(zip((64, 128, 256, 512), (1, 2, 2, 2))):
            setattr(self, f'layer{i + 1}', self._make_layer(block, planes, layers[i], stride))
        feat_dim = 512 * block.expansion
        self.fc1 = (nn.Dropout(dropout) if dropout > 0 else
                    nn.Conv1d(feat_dim, num_classes, 1))

    def _make_layer(self, block, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, self.num_segments, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, self.num_segments) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def motion(self, x: torch.Tensor) -> torch.Tensor:
        """The flow maps D(t) [N*T, 3, H, W] from the layer2 features."""
        feat = self.chnl_reduction(x)
        nt, c, h, w = feat.shape
        t = self.num_segments
        # [N*T, C, H, W] -> [N, T, C, H, W]
        feat = feat.view(nt // t, t, c, h, w)
        # [N, T-1, C, H, W] -> [N*(T-1), C, H, W]
        source = feat[:, :-1].reshape(-1, c, h, w)
        target = feat[:, 1:].reshape(-1, c, h, w)
        corr = F.relu(naive_correlation(l2_normalize(source), l2_normalize(target)))
        flow = flow_from_correlation(corr)
        # [N*(T-1), 3, H, W] -> [N, T-1, 3, H, W]; the last pair's map stands in for frame T
        flow = flow.view(nt // t, t - 1, 3, h, w)
        flow = torch.cat([flow, flow[:, -1:]], dim=1)
        # [N, T, 3, H, W] -> [N*T, 3, H, W]
        return flow.view(nt, 3, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        x = x + self.flow_refinement(self.motion(x))
        x = self.layer4(self.layer3(x))
        x = F.adaptive_avg_pool2d(x, 1)
        # [N*T, C, 1, 1] -> [N*T, C, 1]
        return self.fc1(x.view(x.size(0), -1, 1))


class RefTSN(nn.Module):
    """The TSN wrapper: ``base_model``, ``new_fc`` (with dropout) and average consensus."""

    def __init__(self, depth: int = 50, num_segments: int = 8, num_classes: int = 174,
                 dropout: float = 0.5):
        super().__init__()
        self.num_segments = num_segments
        self.base_model = RefResNetMS(depth, num_segments, num_classes, dropout)
        feat_dim = 512 * (4 if ARCH_SETTINGS[depth][0] == 'bottleneck' else 1)
        self.new_fc = nn.Conv1d(feat_dim, num_classes, 1) if dropout > 0 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits [N, classes] from frames [N, T, 3, H, W]."""
        # [N, T, 3, H, W] -> [N*T, 3, H, W]
        out = self.base_model(x.reshape((-1, ) + x.shape[2:]))
        if self.new_fc is not None:
            out = self.new_fc(out)
        # [N*T, classes, 1] -> [N, T, classes]
        out = out.view(-1, self.num_segments, out.size(1))
        return out.mean(dim=1)


def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights everywhere, BN statistics included, so no mapping error can hide."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith('num_batches_tracked'):
                tensor.fill_(int(torch.randint(1, 1000, (1, ), generator=gen)))
            elif name.endswith('running_var'):
                tensor.copy_(torch.rand(tensor.shape, generator=gen) + 0.5)
            elif name.endswith('running_mean'):
                tensor.copy_(torch.randn(tensor.shape, generator=gen) * 0.1)
            elif tensor.dim() == 1:  # BN weights and biases, conv biases
                tensor.copy_(torch.rand(tensor.shape, generator=gen) * 0.5 + 0.75
                             if name.endswith('weight') else
                             torch.randn(tensor.shape, generator=gen) * 0.1)
            else:  # conv weights: fan-in scaling keeps activations in range
                fan_in = tensor[0].numel()
                tensor.copy_(torch.randn(tensor.shape, generator=gen) * (2.0 / fan_in)**0.5)
    return model


def reference_checkpoint(model: RefTSN, epoch: int = 40, best_prec1: float = 50.9
                         ) -> Dict[str, object]:
    """The dict the reference training script saves (DataParallel keys)."""
    state_dict = {f'module.{k}': v.clone() for k, v in model.state_dict().items()}
    return dict(epoch=epoch, arch='MS', state_dict=state_dict, best_prec1=best_prec1)
