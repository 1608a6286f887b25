"""Key mapping from the authors' MotionSqueeze checkpoints to this plugin's models.

The reference code (github arunos728/MotionSqueeze) saves
``{'epoch', 'arch', 'state_dict', 'best_prec1'}`` from a ``DataParallel`` over
a TSN wrapper, so every key starts with ``module.base_model.`` (the ResNet) or
``module.new_fc.`` (the classifier, a ``Conv1d`` of kernel 1, present when
dropout > 0; with dropout 0 the classifier is ``base_model.fc1``). This module
maps those keys to the keys of an MSNet built from a config of this plugin:

==========================================  ==============================================
reference (after ``module.base_model.``)    plugin
==========================================  ==============================================
``conv1.weight``, ``bn1.*``                 ``backbone.conv1.conv.weight``, ``.conv1.bn.*``
``layerI.J.conv1.weight``                   ``backbone.layerI.J.conv1.conv.net.weight`` (TSM)
``layerI.J.convK.weight``, ``.bnK.*``       ``backbone.layerI.J.convK.conv.weight``, ``.bn.*``
``layerI.J.downsample.0`` / ``.1``          ``backbone.layerI.J.downsample.conv`` / ``.bn``
``chnl_reduction.0`` / ``.1``               ``backbone.ms_layer2.reduce.conv`` / ``.bn``
``flow_refinement.convK.0`` / ``.1``        ``backbone.ms_layer2.transform.{K-1}.depthwise.*``
``flow_refinement.convK.3`` / ``.4``        ``backbone.ms_layer2.transform.{K-1}.pointwise.*``
``new_fc.*`` or ``fc1.*`` ([K, C, 1])       ``cls_head.fc_cls.*`` ([K, C])
``bn2.*`` (stem level, never used)          dropped
==========================================  ==============================================

(``depthwise.*``/``pointwise.*``: ``.conv`` for the conv at index 0/3, ``.bn``
for the BatchNorm at index 1/4.)

The functions here are pure (dicts of tensors in, dicts of tensors out) so that
the tool and the tests share them.
"""
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Tuple

import torch

from ..models.naming import SHIFT_WRAPPER, without_shift_wrapper
from .checkpoint import compare_state_dicts

__all__ = ['ConversionReport', 'convert_reference_state_dict', 'reconcile_with_model',
           'describe_reference', 'strip_wrappers', 'iter_model_prefixes', 'DEFAULT_MS_PREFIX']

DEFAULT_MS_PREFIX = 'backbone.ms_layer2'
# The wrappers the reference training script puts around the ResNet.
_WRAPPER_PREFIXES = ('module.', 'base_model.')
_UNUSED = {
    re.compile(r'^bn2\.'): 'the reference ResNet holds a BatchNorm2d(128) `bn2` that its '
                           'forward never uses',
}
_BN_FIELDS = r'(weight|bias|running_mean|running_var|num_batches_tracked)'


@dataclass
class ConversionReport:
    """What happened to every key; :meth:`lines` renders it for people."""

    converted: Dict[str, str] = field(default_factory=dict)  # source -> target
    dropped: Dict[str, str] = field(default_factory=dict)  # source -> why
    unknown: List[str] = field(default_factory=list)  # source keys no rule matched
    added: Dict[str, str] = field(default_factory=dict)  # target -> why
    missing: List[str] = field(default_factory=list)  # model keys the checkpoint lacks
    unexpected: List[str] = field(default_factory=list)  # converted keys the model lacks
    shape_mismatch: Dict[str, Tuple[tuple, tuple]] = field(default_factory=dict)
    renamed: Dict[str, str] = field(default_factory=dict)  # rule target -> model key

    @property
    def ok(self) -> bool:
        return not (self.unknown or self.missing or self.unexpected or self.shape_mismatch)

    def lines(self) -> List[str]:
        out = [f'converted {len(self.converted)} tensors']
        for key, why in self.dropped.items():
            out.append(f'dropped {key}: {why}')
        for key, why in self.added.items():
            out.append(f'added {key}: {why}')
        for rule_key, model_key in self.renamed.items():
            out.append(f'renamed {rule_key} -> {model_key} (as the model names it)')
        if self.unknown:
            out.append(f'{len(self.unknown)} source keys match no rule (expected the '
                       'reference layout: module.base_model.{conv1,bn1,bn2,layerI.J.*,'
                       'chnl_reduction.*,flow_refinement.convK.*,fc1.*} and module.new_fc.*):')
            out += [f'  {key}' for key in self.unknown]
        if self.missing:
            out.append(f'{len(self.missing)} keys the model expects are not in the checkpoint:')
            out += [f'  {key}' for key in self.missing]
        if self.unexpected:
            out.append(f'{len(self.unexpected)} converted keys are not in the model:')
            out += [f'  {key}' for key in self.unexpected]
        for key, (got, want) in self.shape_mismatch.items():
            out.append(f'shape mismatch at {key}: checkpoint {got}, model {want}')
        return out


def strip_wrappers(key: str) -> str:
    """``module.base_model.layer1.0.conv1.weight`` -> ``layer1.0.conv1.weight``."""
    for prefix in _WRAPPER_PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix):]
    return key


def _rules(ms_prefix: str, shift_wrapper: str) -> List[Tuple[re.Pattern, Callable]]:
    """(pattern on the stripped key, function of the match -> target key)."""
    block = r'^(layer\d+\.\d+)'
    sep = {'0': 'depthwise.conv', '1': 'depthwise.bn', '3': 'pointwise.conv',
           '4': 'pointwise.bn'}
    return [
        (re.compile(r'^conv1\.weight$'), lambda m: 'backbone.conv1.conv.weight'),
        (re.compile(rf'^bn1\.{_BN_FIELDS}$'), lambda m: f'backbone.conv1.bn.{m[1]}'),
        (re.compile(block + r'\.conv1\.weight$'),
         lambda m: f'backbone.{m[1]}.conv1.conv{shift_wrapper}.weight'),
        (re.compile(block + r'\.conv([23])\.weight$'),
         lambda m: f'backbone.{m[1]}.conv{m[2]}.conv.weight'),
        (re.compile(block + rf'\.bn([123])\.{_BN_FIELDS}$'),
         lambda m: f'backbone.{m[1]}.conv{m[2]}.bn.{m[3]}'),
        (re.compile(block + r'\.downsample\.0\.weight$'),
         lambda m: f'backbone.{m[1]}.downsample.conv.weight'),
        (re.compile(block + rf'\.downsample\.1\.{_BN_FIELDS}$'),
         lambda m: f'backbone.{m[1]}.downsample.bn.{m[2]}'),
        (re.compile(r'^chnl_reduction\.0\.weight$'), lambda m: f'{ms_prefix}.reduce.conv.weight'),
        (re.compile(rf'^chnl_reduction\.1\.{_BN_FIELDS}$'),
         lambda m: f'{ms_prefix}.reduce.bn.{m[1]}'),
        (re.compile(r'^flow_refinement\.conv([1-4])\.([0134])\.(\w+)$'),
         lambda m: f'{ms_prefix}.transform.{int(m[1]) - 1}.{sep[m[2]]}.{m[3]}'),
        (re.compile(r'^(new_fc|fc1)\.(weight|bias)$'), lambda m: f'cls_head.fc_cls.{m[2]}'),
    ]


def _add_missing_bn_counters(out: 'OrderedDict[str, torch.Tensor]',
                             report: ConversionReport) -> None:
    # Checkpoints of torch < 0.4.1 have no num_batches_tracked; MMEngine's strict load wants it.
    for key in list(out):
        if key.endswith('.running_mean'):
            counter = key[:-len('running_mean')] + 'num_batches_tracked'
            if counter not in out:
                out[counter] = torch.tensor(0, dtype=torch.long)
                report.added[counter] = 'absent from the source (old torch); set to 0'


def convert_reference_state_dict(
        state_dict: Mapping[str, torch.Tensor],
        ms_prefix: str = DEFAULT_MS_PREFIX,
        shift_wrapper: str = SHIFT_WRAPPER,
) -> Tuple['OrderedDict[str, torch.Tensor]', ConversionReport]:
    """Rename (and reshape) a reference state dict for the plugin's MSNet.

    Args:
        state_dict (Mapping[str, Tensor]): The reference ``state_dict``; the
            ``module.`` and ``base_model.`` prefixes are optional.
        ms_prefix (str): Where the model keeps its MotionSqueeze module.
            Defaults to ``'backbone.ms_layer2'``.
        shift_wrapper (str): What the temporal shift adds to the name of the
            first conv of each block (``'.net'`` for MMAction2's
            ``shift_place='blockres'``; ``''`` for a model without shift).
            Defaults to ``'.net'``.

    Returns:
        tuple: The converted ``OrderedDict`` and a :class:`ConversionReport`
        (``unknown`` lists source keys no rule knows; nothing is guessed).
    """
    rules = _rules(ms_prefix, shift_wrapper)
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    report = ConversionReport()
    for key, value in state_dict.items():
        short = strip_wrappers(key)
        why = next((reason for pattern, reason in _UNUSED.items() if pattern.search(short)), None)
        if why is not None:
            report.dropped[key] = why
            continue
        for pattern, target in rules:
            match = pattern.match(short)
            if match:
                new_key = target(match)
                if new_key == 'cls_head.fc_cls.weight' and value.dim() == 3:
                    # Conv1d kernel [K, C, 1] -> Linear weight [K, C]
                    value = value.squeeze(-1)
                out[new_key] = value.detach().clone().contiguous()
                report.converted[key] = new_key
                break
        else:
            report.unknown.append(key)
    _add_missing_bn_counters(out, report)
    return out, report


def reconcile_with_model(converted: Mapping[str, torch.Tensor],
                         model_state: Mapping[str, torch.Tensor],
                         report: Optional[ConversionReport] = None
                         ) -> Tuple['OrderedDict[str, torch.Tensor]', ConversionReport]:
    """Use the built model's own key names, and check keys and shapes.

    A converted key that the model names differently only by a wrapper
    segment (``conv1.conv.weight`` vs ``conv1.conv.net.weight``, models with
    and without temporal shift) is renamed to the model's name; everything
    else that differs is reported, not fixed.

    Args:
        converted (Mapping[str, Tensor]): Output of
            :func:`convert_reference_state_dict`.
        model_state (Mapping[str, Tensor]): ``model.state_dict()`` of the
            target model.
        report (ConversionReport, optional): Report to extend. Defaults to a new one.

    Returns:
        tuple: The state dict in the model's names, and the report
        (``report.ok`` is True when it loads with ``strict=True``).
    """
    report = report if report is not None else ConversionReport()
    by_canonical: Dict[str, List[str]] = {}
    for key in model_state:
        by_canonical.setdefault(without_shift_wrapper(key), []).append(key)
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    for key, value in converted.items():
        target = key
        if key not in model_state:
            candidates = by_canonical.get(without_shift_wrapper(key), [])
            if len(candidates) == 1:
                target = candidates[0]
                report.renamed[key] = target
        if target not in model_state:
            report.unexpected.append(key)
            continue
        out[target] = value
    mismatch = compare_state_dicts(model_state, out)
    report.shape_mismatch.update(mismatch.shapes)
    missing = set(mismatch.missing)
    report.missing = [key for key in model_state if key in missing]
    return out, report


def describe_reference(state_dict: Mapping[str, torch.Tensor]) -> Dict[str, object]:
    """Depth, block type, MS presence and class count read off a reference state dict."""
    keys = [strip_wrappers(k) for k in state_dict]
    bottleneck = any(re.match(r'^layer1\.0\.conv3\.', k) for k in keys)
    blocks = tuple(
        len({k.split('.')[1] for k in keys if k.startswith(f'layer{i}.')}) for i in range(1, 5))
    depths = {(False, (2, 2, 2, 2)): 18, (False, (3, 4, 6, 3)): 34,
              (True, (3, 4, 6, 3)): 50, (True, (3, 4, 23, 3)): 101,
              (True, (3, 8, 36, 3)): 152}
    num_classes = None
    for key, value in state_dict.items():
        if re.match(r'^(new_fc|fc1)\.weight$', strip_wrappers(key)):
            num_classes = int(value.shape[0])
    return dict(depth=depths.get((bottleneck, blocks)), blocks=blocks,
                motion_squeeze=any(k.startswith('chnl_reduction.') for k in keys),
                num_classes=num_classes)


def iter_model_prefixes(model_keys: Iterable[str], suffix: str) -> List[str]:
    """Prefixes of the keys that end with ``suffix`` (finds where a module lives)."""
    return sorted({k[:-len(suffix)] for k in model_keys if k.endswith(suffix)})
