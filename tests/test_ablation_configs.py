"""``configs/ablations/``: the paper's config with one ablation row's MS arguments changed.

Each config differs from ``configs/msnet_r50_sthv1.py`` in exactly the keys
and values of its row in :data:`ROWS` (a config missing from the table
fails), builds the MS modules its row asks for, trains a step and tests on
the Something-Something V1 miniature in MMAction2's real format
(:mod:`mmaction_data`), at a quarter of the configs' frame sizes. The
per-config checks of ``tests/test_configs.py`` (the plugin declared, the
model stated, the pipelines) hold for these through their base: nothing else
differs. ``docs/ablations.md`` runs the tool that trains the rows at R18 sizes.
"""
import ms_plugin  # noqa: F401,I001  (first: it fixes the stack that mmaction.models needs)
import copy
import functools
import json

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from conftest import REPO_ROOT, load_tool
from ms_plugin.models import motion_squeeze_modules
from ms_plugin.utils.errors import InputError

ablations = load_tool('analysis/synthetic_ablations')

ABLATION_DIR = REPO_ROOT / 'configs' / 'ablations'
STAGES = 'model.backbone.ms_stages'
MS_CFG = 'model.backbone.ms_cfg.'
# config -> the keys in which it differs from msnet_r50_sthv1.py, with its values.
ROWS = {
    'msnet_r50_sthv1_no-ms.py': {STAGES: ()},
    'msnet_r50_sthv1_res2.py': {STAGES: (0, )},
    'msnet_r50_sthv1_res4.py': {STAGES: (2, )},
    'msnet_r50_sthv1_res5.py': {STAGES: (3, )},
    'msnet_r50_sthv1_res2-res3.py': {STAGES: (0, 1)},
    'msnet_r50_sthv1_res3-res4.py': {STAGES: (1, 2)},
    'msnet_r50_sthv1_res2-res3-res4.py': {STAGES: (0, 1, 2)},
    'msnet_r50_sthv1_soft-argmax.py': {MS_CFG + 'soft_argmax': 'plain'},
    'msnet_r50_sthv1_argmax.py': {MS_CFG + 'soft_argmax': 'hard'},
    'msnet_r50_sthv1_no-confidence.py': {MS_CFG + 'use_confidence': False},
    'msnet_r50_sthv1_d1.py': {MS_CFG + 'max_displacement': 1},
    'msnet_r50_sthv1_d3.py': {MS_CFG + 'max_displacement': 3},
    'msnet_r50_sthv1_d5.py': {MS_CFG + 'max_displacement': 5},
}
# Frame sizes in the pipelines, divided by this: R50 on 28x28 crops (res3 4x4, res5 1x1).
SHRINK = 8
SIZE_KEYS = {'Resize': 'scale', 'MultiScaleCrop': 'input_size', 'CenterCrop': 'crop_size',
             'ThreeCrop': 'crop_size'}


def test_every_ablation_config_has_its_row():
    files = sorted(path.name for path in ABLATION_DIR.glob('*.py'))
    assert files == sorted(ROWS), 'a config of configs/ablations/ without a row in ROWS'
    assert len(files) >= 8


def test_a_difference_outside_the_ms_arguments_is_refused(tmp_path):
    config = tmp_path / 'msnet_r50_sthv1_bigger_batch.py'
    config.write_text(f"_base_ = ['{REPO_ROOT / 'configs' / 'msnet_r50_sthv1.py'}']\n"
                      "model = dict(backbone=dict(ms_stages=(2, )))\n"
                      "train_dataloader = dict(batch_size=2)\n")
    assert ablations.config_difference(str(config)) == {
        STAGES: (2, ), 'train_dataloader.batch_size': 2}
    with pytest.raises(InputError, match='train_dataloader.batch_size'):
        ablations.row_options(str(config))


def _shrunk(pipeline: list) -> list:
    """``pipeline`` with its frame sizes divided by :data:`SHRINK`, one test clip."""
    pipeline = copy.deepcopy(pipeline)
    for step in pipeline:
        key = SIZE_KEYS.get(step['type'])
        if key is not None:
            size = step[key]
            step[key] = (tuple(s // SHRINK for s in size) if isinstance(size, (tuple, list))
                         else size // SHRINK)
        if step['type'] == 'SampleFrames':
            step['twice_sample'] = False
    return pipeline


def _loader(cfg: Config, name: str):
    loader = copy.deepcopy(cfg[name])
    loader.update(batch_size=1, num_workers=0)
    loader.dataset.serialize_data = False  # for workers to share; its gc.collect() takes seconds
    loader.dataset.pipeline = _shrunk(loader.dataset.pipeline)
    return Runner.build_dataloader(loader, seed=0)


@functools.lru_cache()
def _paper_config(data_root: str) -> Config:
    """``msnet_r50_sthv1.py`` as loaded with ``MS_DATA_ROOT=data_root``, loaded once."""
    return Config.fromfile(str(REPO_ROOT / 'configs' / 'msnet_r50_sthv1.py'))


@pytest.mark.parametrize('name', sorted(ROWS))
def test_config_is_its_row_and_trains_and_tests_on_the_sthv1_miniature(
        name, user_root, monkeypatch):
    path = ABLATION_DIR / name
    text = path.read_text()
    assert text.startswith('# Ablation of MSNet-R50') and '# Paper (Kwon et al.' in text
    assert "_base_ = ['../msnet_r50_sthv1.py']" in text
    monkeypatch.setenv('MS_DATA_ROOT', str(user_root / 'data'))  # read when a config loads
    cfg = Config.fromfile(str(path))
    row = ROWS[name]
    # Only the row's keys differ from the paper's config, with the row's values.
    assert ablations.row_options(cfg, _paper_config(str(user_root / 'data'))) == row

    init_default_scope(cfg.default_scope)
    backbone = cfg.model.backbone
    backbone.pretrained = None  # ImageNet weights change nothing here
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)

    # The MS modules the row asks for, where it asks for them.
    modules = motion_squeeze_modules(model)
    assert sorted(modules) == [f'backbone.ms_layer{i + 1}' for i in backbone.ms_stages]
    assert len(modules) == len(row.get(STAGES, (1, )))
    for module in modules.values():
        assert module.soft_argmax == backbone.ms_cfg.soft_argmax
        assert module.use_confidence == backbone.ms_cfg.use_confidence
        assert module.max_displacement == backbone.ms_cfg.max_displacement
    for key, value in row.items():
        if key.startswith(MS_CFG):
            assert all(getattr(m, key[len(MS_CFG):]) == value for m in modules.values())

    # One training step: every MS module learns.
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    data = next(iter(_loader(cfg, 'train_dataloader')))
    before = {key: [p.detach().clone() for p in m.parameters()] for key, m in modules.items()}
    model.train()
    losses = model.train_step(data, optim)
    assert torch.isfinite(losses['loss'])
    for key, module in modules.items():
        assert any(not torch.equal(b, p) for b, p in zip(before[key], module.parameters())), \
            f'{key} did not learn'

    # The test: the config's test pipeline (one clip), evaluator and class count.
    loader = _loader(cfg, 'test_dataloader')
    evaluator = Evaluator(cfg.test_evaluator)
    model.eval()
    with torch.no_grad():
        for data in loader:
            outputs = model.test_step(data)
            assert outputs[0].pred_score.shape == (cfg.model.cls_head.num_classes, )
            evaluator.process(outputs, data)
    metrics = evaluator.evaluate(len(loader.dataset))
    assert 0 <= metrics['acc/top1'] <= 1


def test_a_row_is_reused_only_with_the_same_options_and_seed(tmp_path):
    wanted = dict(options={STAGES: (0, 1)}, cfg_options={STAGES: (0, 1), 'a.b': None}, seed=0)
    path = tmp_path / 'result.json'
    assert ablations.finished_row(str(path), wanted) is None
    path.write_text(json.dumps(dict(wanted, top1=0.5)))  # tuples come back as lists
    assert ablations.finished_row(str(path), wanted)['top1'] == 0.5
    assert ablations.finished_row(str(path), dict(wanted, seed=1)) is None
    assert ablations.finished_row(str(path), dict(wanted, options={STAGES: (0, )})) is None
