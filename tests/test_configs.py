"""Every config under configs/ (shared pieces excepted): it loads, declares the
plugin, states the model it builds (``print_config`` shows every value the model
uses), builds a model that trains and tests a step, and its data pipelines
run on generated data in the dataset's layout. Plus the backbone swap into a
stock MMAction2 config and the HMDB51 fine-tuning from a Kinetics checkpoint."""
import ms_plugin  # noqa: F401,I001  (first: it fixes the stack that mmaction.models needs)
import collections
import contextlib
import copy
import functools
import inspect
import os.path as osp
from pathlib import Path
from typing import Dict, Iterator, List, Set

import cv2
import mmaction
import numpy as np
import pytest
import torch
from mmaction.registry import DATASETS, MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from ms_plugin.utils.video import write_video

CONFIG_DIR = Path(__file__).resolve().parents[1] / 'configs'
# Shared pieces (`_base_/` folders, `_*.py` files) are not configs of their own. The
# ablations (configs/ablations/) are msnet_r50_sthv1.py with MS arguments changed and
# nothing else: tests/test_ablation_configs.py checks that, and builds and runs each.
CONFIGS = sorted(
    path for path in CONFIG_DIR.rglob('*.py')
    if '_base_' not in path.relative_to(CONFIG_DIR).parts[:-1] and not path.name.startswith('_')
    and path.relative_to(CONFIG_DIR).parts[0] != 'ablations')
CONFIG_IDS = [str(path.relative_to(CONFIG_DIR)) for path in CONFIGS]
STOCK_TSM_STHV2 = osp.join(osp.dirname(mmaction.__file__), '.mim', 'configs', 'recognition',
                           'tsm', 'tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_sthv2-rgb.py')
STOCK_SWIN_K400 = osp.join(osp.dirname(mmaction.__file__), '.mim', 'configs', 'recognition',
                           'swin',
                           'swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb.py')
NUM_FRAMES = 24
FRAME_SIZE = (80, 60)  # (w, h)
SAMPLERS = ('SampleFrames', 'DenseSampleFrames', 'UniformSample')


@pytest.fixture(autouse=True)
def _mmaction_scope():
    init_default_scope('mmaction')


def _load(path: Path) -> Config:
    return Config.fromfile(str(path))


def _num_segments(cfg: Config) -> int:
    """Frames per clip: TSM's num_segments, or a 3D backbone's clip_len."""
    backbone = cfg.model.backbone
    return backbone.get('num_segments', backbone.get('clip_len', 8))


def _is_3d(cfg: Config) -> bool:
    """Clips as [views, C, T, H, W] (Recognizer3D) rather than frames [views*T, C, H, W]."""
    return cfg.model.data_preprocessor.get('format_shape', 'NCHW') == 'NCTHW'


def _model_without_downloads(cfg: Config) -> dict:
    model = copy.deepcopy(cfg.model)
    if 'pretrained' in model.backbone:
        model.backbone.pretrained = None
    return model


def test_the_paper_configs_and_the_swap_example_are_all_found():
    names = set(CONFIG_IDS)
    expected = {'msnet_r50_sthv1.py', 'msnet_r50_16f_sthv1.py', 'msnet_r50_sthv2.py',
                'msnet_r50_16f_sthv2.py', 'msnet_r50_k400.py', 'msnet_r50_hmdb51.py',
                'examples/tsm_r50_sthv2_swap_ms.py', 'examples/swin_tiny_k400_swap_ms.py',
                'msnet_mobilenetv2_sthv2.py',
                'msnet_slowonly_r50_k400.py'}
    assert expected <= names


@pytest.mark.parametrize('path', CONFIGS, ids=CONFIG_IDS)
def test_config_loads_and_declares_the_plugin(path):
    cfg = _load(path)
    assert cfg.default_scope == 'mmaction'
    assert 'ms_plugin' in cfg.custom_imports['imports']
    assert cfg.custom_imports.get('allow_failed_imports') is False
    assert cfg.model.type in MODELS.module_dict
    assert cfg.model.backbone.type in MODELS.module_dict


@pytest.mark.parametrize('path', CONFIGS, ids=CONFIG_IDS)
def test_config_model_trains_and_tests_a_step(path):
    cfg = _load(path)
    torch.manual_seed(0)
    model = MODELS.build(_model_without_downloads(cfg))
    model.init_weights()
    optim_cfg = cfg.optim_wrapper
    if optim_cfg.get('type') == 'AmpOptimWrapper' and not torch.cuda.is_available():
        optim_cfg = dict(optim_cfg, type='OptimWrapper')  # mmengine's AMP refuses the CPU
    optim = build_optim_wrapper(model, optim_cfg)
    frames = _num_segments(cfg)

    def batch(views: int) -> Dict:
        shape = (views, 3, frames, 32, 32) if _is_3d(cfg) else (views * frames, 3, 32, 32)
        inputs = [torch.randint(0, 256, shape, dtype=torch.uint8)]
        return dict(inputs=inputs, data_samples=[ActionDataSample().set_gt_label(0)])

    model.train()
    before = [p.detach().clone() for p in model.parameters() if p.requires_grad]
    losses = model.train_step(batch(1), optim)
    assert torch.isfinite(losses['loss'])
    after = [p for p in model.parameters() if p.requires_grad]
    assert any(not torch.equal(b, a) for b, a in zip(before, after))

    model.eval()
    (prediction, ) = model.test_step(batch(2))
    num_classes = cfg.model.cls_head.num_classes
    assert prediction.pred_score.shape == (num_classes, )
    assert torch.isclose(prediction.pred_score.sum(), torch.tensor(1.0), atol=1e-4)


# ---------------------------------------------------------------- the config states its model
# What a config may leave to a constructor's default. From MMAction2's classes:
# what MMAction2's own configs leave too (layer types, strides, losses, ...),
# never the values of ALWAYS_STATED. From the plugin's classes: only the
# conventions every MMAction2 module shares (layer types, init, memory,
# freezing, a recognizer's optional parts). A head's in_channels has no
# default; MSNet filling it in is caught by building the plain recognizer.
CONVENTIONS = {'init_cfg', 'conv_cfg', 'norm_cfg', 'with_cp', 'frozen_stages', 'neck',
               'train_cfg', 'test_cfg'}
ALWAYS_STATED = {'backbone', 'cls_head', 'data_preprocessor', 'pretrained', 'depth',
                 'num_segments', 'is_shift', 'shift_div', 'norm_eval', 'model_name',
                 'num_classes', 'dropout_ratio', 'spatial_type', 'consensus', 'average_clips',
                 'mean', 'std', 'format_shape', 'ms_stages', 'ms_cfg'}


def _is_plugins(klass: type) -> bool:
    return klass.__module__.split('.')[0] == 'ms_plugin'


def _may_default(klass: type, name: str) -> bool:
    if _is_plugins(klass):
        return name in CONVENTIONS
    return name not in ALWAYS_STATED


@contextlib.contextmanager
def defaults_relied_on() -> Iterator[Dict[type, Set[str]]]:
    """``{class: names}``: the constructor arguments that whatever is built
    inside the block left to a default, at every level of each object's MRO
    (``ResNetTSM_MS`` -> ``ResNetTSM`` -> ``ResNet``): a level's default
    counts unless an outer level of the same object was given that argument
    (MSNet takes ``cls_head`` and builds the head itself, not through
    ``BaseRecognizer``)."""
    calls = []  # (object, class, names given, names defaulted), filled as they run
    classes = {klass for registered in MODELS.module_dict.values() if inspect.isclass(registered)
               for klass in registered.__mro__
               if klass.__module__.split('.')[0] in ('mmaction', 'ms_plugin')
               and '__init__' in vars(klass)}

    def recording(klass: type, init):
        signature = inspect.signature(init)

        @functools.wraps(init)
        def init_recorded(self, *args, **kwargs):
            bound = signature.bind(self, *args, **kwargs).arguments
            given = set(bound)
            for name, param in signature.parameters.items():
                if param.kind is param.VAR_KEYWORD:
                    given |= set(bound.get(name, {}))
            defaulted = {name for name, param in signature.parameters.items()
                         if param.default is not param.empty and name not in given}
            calls.append((self, klass, given, defaulted))
            return init(self, *args, **kwargs)
        return init_recorded

    originals = {klass: vars(klass)['__init__'] for klass in classes}
    relied = collections.defaultdict(set)
    try:
        for klass, init in originals.items():
            klass.__init__ = recording(klass, init)
        yield relied
    finally:
        for klass, init in originals.items():
            klass.__init__ = init
    given_above = collections.defaultdict(set)  # id(object) -> names its outer levels got
    for obj, klass, given, defaulted in calls:  # outer levels first
        relied[klass] |= defaulted - given_above[id(obj)]
        given_above[id(obj)] |= given


def _described(model: torch.nn.Module) -> Dict:
    """Everything a built model is: each module's type and plain attributes
    (``shift_div``, ``num_segments``, ``dropout_ratio``, ``temperature``...),
    parameter and buffer shapes, the preprocessor's mean and std."""
    plain = (bool, int, float, str, tuple, type(None))
    modules = {name: (type(module).__name__,
                      {key: value for key, value in vars(module).items()
                       if isinstance(value, plain) and not key.startswith('_')})
               for name, module in model.named_modules() if name}
    shapes = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    preprocessor = model.data_preprocessor
    return dict(modules=modules, shapes=shapes, mean=preprocessor.mean.flatten().tolist(),
                std=preprocessor.std.flatten().tolist())


def _build_recorded(model_cfg: dict) -> torch.nn.Module:
    """Build ``model_cfg``; fail on any default it relies on that it must state."""
    with defaults_relied_on() as relied:
        model = MODELS.build(model_cfg)
    missing = {klass.__name__: sorted(name for name in names if not _may_default(klass, name))
               for klass, names in relied.items()}
    assert not {k: v for k, v in missing.items() if v}, \
        f'the config relies on these class defaults; state them: {missing}'
    return model


def _build_stating_everything(model_cfg: dict) -> torch.nn.Module:
    """Build ``model_cfg``, checking that it states every value the model uses.

    A recognizer of the plugin's (MSNet) is built again as the MMAction2
    recognizer it derives from, which has no defaults to merge and fills in
    nothing: both must check out and give the same model.
    """
    model = _build_recorded(model_cfg)
    stock = next(klass for klass in type(model).__mro__ if not _is_plugins(klass))
    assert stock.__module__.startswith('mmaction.models.recognizers')
    if stock is not type(model):
        plain = _build_recorded(dict(model_cfg, type=stock.__name__))
        assert _described(plain) == _described(model)
    return model


@pytest.mark.parametrize('path', CONFIGS, ids=CONFIG_IDS)
def test_printed_config_states_the_model_the_runner_builds(path):
    cfg = _load(path)
    printed = Config.fromstring(cfg.pretty_text, '.py')  # what print_config shows
    assert printed.model == cfg.model
    model = _build_stating_everything(_model_without_downloads(printed))
    runner_model = MODELS.build(_model_without_downloads(cfg))  # the Runner's MODELS.build
    assert _described(runner_model) == _described(model)


def test_the_check_of_stated_values_catches_a_missing_one():
    cfg = _load(CONFIG_DIR / 'synthetic' / 'msnet_r18_synthetic.py')  # MSNet, small
    assert cfg.model.type == 'MSNet'
    for part, key in (('backbone', 'shift_div'), ('backbone', 'num_segments'),
                      ('cls_head', 'dropout_ratio'), ('data_preprocessor', 'mean')):
        model_cfg = _model_without_downloads(cfg)
        model_cfg[part].pop(key)  # MSNet's default; Recognizer2D relies on the class's
        with pytest.raises(AssertionError, match=key):
            _build_stating_everything(model_cfg)
    model_cfg = _model_without_downloads(cfg)
    model_cfg.backbone.ms_cfg.pop('sigma')  # a default of the plugin's MotionSqueeze
    with pytest.raises(AssertionError, match='sigma'):
        _build_stating_everything(model_cfg)
    model_cfg = _model_without_downloads(cfg)
    model_cfg.cls_head.pop('num_segments')  # MSNet copies the backbone's 8: same model
    model_cfg.backbone.num_segments = 4
    with pytest.raises(AssertionError):
        _build_stating_everything(model_cfg)
    model_cfg = _model_without_downloads(cfg)
    model_cfg.cls_head.pop('in_channels')  # MSNet fills it in; Recognizer2D cannot
    with pytest.raises(TypeError, match='in_channels'):
        _build_stating_everything(model_cfg)


def test_print_config_shows_the_model():
    text = _load(CONFIG_DIR / 'msnet_r50_16f_sthv2.py').pretty_text
    for shown in ('depth=50', 'num_segments=16', 'shift_div=8', 'ms_stages=(1, )',
                  'max_displacement=7', 'in_channels=2048', 'dropout_ratio=0.5',
                  'mean=[', 'std=['):
        assert shown in text


# ---------------------------------------------------------------- data
def _clip_frames(seed: int) -> List[np.ndarray]:
    rng = np.random.default_rng(seed)
    width, height = FRAME_SIZE
    frames = []
    for t in range(NUM_FRAMES):
        frame = rng.integers(0, 50, (height, width, 3), dtype=np.uint8)
        frame[20:36, 4 + 2 * t:20 + 2 * t] = 230  # a square moving right
        frames.append(frame)
    return frames


@pytest.fixture(scope='module')
def generated_data(tmp_path_factory) -> Path:
    """One clip as `{:05}.jpg` frames (rawframes) and as an mp4 (videos)."""
    root = tmp_path_factory.mktemp('layouts')
    frames = _clip_frames(0)
    frame_dir = root / 'rawframes' / 'clip0'
    frame_dir.mkdir(parents=True)
    for t, frame in enumerate(frames, start=1):  # RawframeDataset starts at 1
        cv2.imwrite(str(frame_dir / f'{t:05}.jpg'), frame)
    (root / 'videos').mkdir()
    write_video(str(root / 'videos' / 'clip0.mp4'), frames, channel_order='bgr')
    return root


def _flip_label_map(pipeline: List[dict]) -> Dict[int, int]:
    for step in pipeline:
        if step['type'] == 'Flip' and step.get('flip_label_map'):
            return dict(step['flip_label_map'])
    return {}


def _expected_views(pipeline: List[dict]) -> int:
    """Clips x crops per sample that the (test) pipeline produces."""
    views = 1
    for step in pipeline:
        if step['type'] in SAMPLERS and step.get('test_mode'):
            views *= 2 if step.get('twice_sample') else 1
            if step.get('clip_len', 1) > 1:  # 3D sampling: each clip is a view
                views *= step.get('num_clips', 1)
            if step['type'] == 'DenseSampleFrames':
                views *= step.get('num_sample_positions', 10)
        views *= {'ThreeCrop': 3, 'TenCrop': 10}.get(step['type'], 1)
    return views


def _dataset_on(dataset_cfg: dict, root: Path, ann_dir: Path, label: int) -> dict:
    dataset_cfg = copy.deepcopy(dataset_cfg)
    ann_file = ann_dir / f'{dataset_cfg.type}.txt'
    if dataset_cfg.type == 'RawframeDataset':
        ann_file.write_text(f'clip0 {NUM_FRAMES} {label}\n')
        dataset_cfg.data_prefix = dict(img=str(root / 'rawframes'))
    elif dataset_cfg.type == 'VideoDataset':
        ann_file.write_text(f'clip0.mp4 {label}\n')
        dataset_cfg.data_prefix = dict(video=str(root / 'videos'))
    else:
        pytest.fail(f'no generated layout for {dataset_cfg.type}; add one to this test')
    dataset_cfg.ann_file = str(ann_file)
    return dataset_cfg


@pytest.mark.parametrize('split', ['train', 'val', 'test'])
@pytest.mark.parametrize('path', CONFIGS, ids=CONFIG_IDS)
def test_config_pipeline_runs_on_generated_data(path, split, generated_data, tmp_path):
    cfg = _load(path)
    dataset_cfg = cfg[f'{split}_dataloader'].dataset
    pipeline = dataset_cfg.pipeline
    flip_map = _flip_label_map(pipeline)
    label = min(flip_map) if flip_map else 0
    if flip_map:  # always flip, to see the label swap
        for step in pipeline:
            if step['type'] == 'Flip':
                step['flip_ratio'] = 1.0
    dataset = DATASETS.build(_dataset_on(dataset_cfg, generated_data, tmp_path, label))
    sample = dataset[0]

    frames = _num_segments(cfg)
    views = _expected_views(pipeline) if split == 'test' else 1
    inputs = sample['inputs']
    assert inputs.dtype == torch.uint8 and inputs.shape[1] == 3
    if _is_3d(cfg):
        assert inputs.shape[0] == views and inputs.shape[2] == frames
    else:
        assert inputs.shape[0] == views * frames
    if path.parent == CONFIG_DIR and path.name.startswith('msnet_') and split != 'test':
        assert inputs.shape[-2:] == (224, 224)
    assert sample['data_samples'].gt_label.item() == flip_map.get(label, label)


# ---------------------------------------------------------------- specific configs
def test_configs_follow_the_reference_recipe():
    sth = _load(CONFIG_DIR / 'msnet_r50_sthv1.py')
    assert sth.train_dataloader.dataset.filename_tmpl == '{:05}.jpg'
    assert sth.model.cls_head.num_classes == 174
    optimizer = sth.optim_wrapper.optimizer
    assert (optimizer.lr, optimizer.momentum, optimizer.nesterov, optimizer.weight_decay) == \
        (0.01, 0.9, True, 5e-4)
    assert sth.param_scheduler[0].milestones == [20, 30] and sth.train_cfg.max_epochs == 40
    assert sth.auto_scale_lr == dict(enable=False, base_batch_size=48)
    assert sth.train_dataloader.batch_size * 8 == 48
    k400 = _load(CONFIG_DIR / 'msnet_r50_k400.py')
    assert k400.train_dataloader.dataset.pipeline[1].type == 'DenseSampleFrames'
    assert (k400.optim_wrapper.optimizer.lr, k400.train_cfg.max_epochs) == (0.02, 75)
    assert k400.param_scheduler[0].milestones == [30, 60]


def test_16_frame_configs_change_only_the_frame_count():
    for dataset in ('sthv1', 'sthv2'):
        cfg8 = _load(CONFIG_DIR / f'msnet_r50_{dataset}.py')
        cfg16 = _load(CONFIG_DIR / f'msnet_r50_16f_{dataset}.py')
        assert cfg16.model.backbone.num_segments == 16
        for split in ('train', 'val', 'test'):
            pipe8 = cfg8[f'{split}_dataloader'].dataset.pipeline
            pipe16 = cfg16[f'{split}_dataloader'].dataset.pipeline
            assert len(pipe8) == len(pipe16)
            for step8, step16 in zip(pipe8, pipe16):
                if step8['type'] in SAMPLERS:
                    assert step16 == dict(step8, num_clips=16)
                else:
                    assert step16 == step8


def test_hmdb51_split_is_one_environment_variable_away(monkeypatch):
    monkeypatch.setenv('HMDB51_SPLIT', '3')
    cfg = _load(CONFIG_DIR / 'msnet_r50_hmdb51.py')
    for split in ('train', 'val', 'test'):
        assert '_split_3_' in cfg[f'{split}_dataloader'].dataset.ann_file
    assert cfg.work_dir.endswith('split3')
    assert cfg.load_from.endswith('.pth')


def test_hmdb51_model_loads_the_kinetics_checkpoint_but_its_classifier(tmp_path):
    k400 = MODELS.build(_model_without_downloads(_load(CONFIG_DIR / 'msnet_r50_k400.py')))
    hmdb = MODELS.build(_model_without_downloads(_load(CONFIG_DIR / 'msnet_r50_hmdb51.py')))
    path = tmp_path / 'epoch_75.pth'
    torch.save(dict(state_dict=k400.state_dict(), meta=dict(epoch=75)), path)
    fc_before = hmdb.cls_head.fc_cls.weight.clone()
    load_checkpoint(hmdb, str(path), map_location='cpu', strict=False)  # what load_from does
    torch.testing.assert_close(hmdb.backbone.ms_layer2.reduce.conv.weight,
                               k400.backbone.ms_layer2.reduce.conv.weight)
    torch.testing.assert_close(hmdb.backbone.layer4[2].conv3.conv.weight,
                               k400.backbone.layer4[2].conv3.conv.weight)
    assert hmdb.cls_head.fc_cls.weight.shape == (51, 2048)
    assert torch.equal(hmdb.cls_head.fc_cls.weight, fc_before)


def _without_scope(item):
    # Loading through `mmaction::` marks the inherited dicts with `_scope_`.
    if isinstance(item, dict):
        return {k: _without_scope(v) for k, v in item.items() if k != '_scope_'}
    if isinstance(item, (list, tuple)):
        return [_without_scope(v) for v in item]
    return item


def test_swap_example_changes_only_the_backbone_of_the_stock_config():
    stock = Config(_without_scope(Config.fromfile(STOCK_TSM_STHV2).to_dict()))
    swapped = Config(_without_scope(
        _load(CONFIG_DIR / 'examples' / 'tsm_r50_sthv2_swap_ms.py').to_dict()))
    assert stock.model.backbone.type == 'ResNetTSM'
    assert swapped.model.backbone.type == 'ResNetTSM_MS'
    assert swapped.model.type == stock.model.type
    # What the stock config leaves to the classes' defaults is stated.
    assert swapped.model.cls_head == dict(stock.model.cls_head, num_segments=8)
    assert swapped.model.data_preprocessor == dict(stock.model.data_preprocessor,
                                                   format_shape='NCHW')
    for key in ('train_dataloader', 'optim_wrapper', 'param_scheduler', 'train_cfg'):
        assert swapped[key] == stock[key]
    assert {k: v for k, v in swapped.model.backbone.items()
            if k not in ('type', 'ms_stages', 'ms_cfg')} == \
        dict({k: v for k, v in stock.model.backbone.items() if k != 'type'}, num_segments=8,
             is_shift=True)

    stock_model = MODELS.build(_model_without_downloads(stock))
    swapped_model = MODELS.build(_model_without_downloads(swapped))
    missing, unexpected = swapped_model.load_state_dict(stock_model.state_dict(), strict=False)
    assert unexpected == []
    assert missing and all(key.startswith('backbone.ms_layer2.') for key in missing)


def test_swin_swap_example_changes_only_the_backbone_of_the_stock_config():
    stock = Config(_without_scope(Config.fromfile(STOCK_SWIN_K400).to_dict()))
    swapped = Config(_without_scope(
        _load(CONFIG_DIR / 'examples' / 'swin_tiny_k400_swap_ms.py').to_dict()))
    for key in ('train_dataloader', 'test_dataloader', 'optim_wrapper', 'param_scheduler',
                'train_cfg'):
        assert swapped[key] == stock[key]
    backbone = swapped.model.backbone
    assert swapped.model == dict(stock.model, backbone=dict(
        stock.model.backbone, type='SwinTransformer3D_MS', clip_len=backbone.clip_len,
        ms_stages=backbone.ms_stages, ms_cfg=backbone.ms_cfg, norm_eval=False))
    sampler, = [step for step in stock.train_dataloader.dataset.pipeline
                if step['type'] == 'SampleFrames']
    assert backbone.clip_len == sampler['clip_len'] == 32

    stock_model = MODELS.build(_model_without_downloads(stock))
    swapped_model = MODELS.build(_model_without_downloads(swapped))
    assert swapped_model.backbone.ms_stage1.num_segments == 16  # 32 frames, patch_size[0] 2
    missing, unexpected = swapped_model.load_state_dict(stock_model.state_dict(), strict=False)
    assert unexpected == []
    assert missing and all(key.startswith('backbone.ms_stage1.') for key in missing)
