"""LabelCheckHook and ms_plugin.datasets.check: labels and flip maps against num_classes.

A label at or beyond ``model.cls_head.num_classes`` (or a flip map that sends
one there) must stop a run before its first iteration with one line naming
the label, the annotation file and line and what to set, not with
``IndexError: Target N is out of bounds`` at a random iteration.
"""
import argparse
import logging
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import TEST_CONFIGS, write_tiny_dataset
from mmaction.registry import DATASETS
from mmengine.config import Config, DictAction
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import ms_plugin  # noqa: F401
from synthetic_writer import write_dataset
from ms_plugin.datasets.check import check_labels, label_problems, model_num_classes
from ms_plugin.utils.errors import InputError
from ms_plugin.engine.hooks import rng_state_hook
from ms_plugin.engine.hooks.rng_state_hook import RNGStateHook

VIDEO_CFG = TEST_CONFIGS / 'tiny_msnet_video.py'
CONFIG_DIR = TEST_CONFIGS.parents[1] / 'configs'
FLIP_KEY = 'train_dataloader.dataset.pipeline.5.flip_label_map'  # the tiny config's Flip


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('labels')
    write_tiny_dataset(root, clips_per_class=1)  # train_videos.txt: labels 0 1 2
    return root


def _tiny_cfg(monkeypatch, data_root: Path, tmp_path: Path, labels=(0, 1, 2)) -> Config:
    monkeypatch.setenv('MS_TINY_DATA', str(data_root))
    cfg = Config.fromfile(str(VIDEO_CFG))
    ann = tmp_path / 'train_videos.txt'
    ann.write_text(''.join(f'clip_{i}.mp4 {label}\n' for i, label in enumerate(labels)))
    cfg.train_dataloader.dataset.ann_file = str(ann)
    cfg.train_cfg.max_epochs = 1
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'labels_{tmp_path.name}'
    return cfg


def _dataset(cfg: Config, split: str = 'train'):
    init_default_scope('mmaction')
    return DATASETS.build(cfg[f'{split}_dataloader'].dataset)


def test_training_stops_with_one_line_before_the_first_iteration(monkeypatch, data_root,
                                                                 tmp_path):
    cfg = _tiny_cfg(monkeypatch, data_root, tmp_path, labels=(0, 1, 2, 7, 1, 3))
    runner = Runner.from_cfg(cfg)
    with pytest.raises(InputError) as info:
        runner.train()
    message = str(info.value)
    assert '\n' not in message and runner.iter == 0
    assert message.startswith(f'label 7 on line 4 of {tmp_path / "train_videos.txt"} '
                              '(1 more line(s) too) is not within '
                              'model.cls_head.num_classes=3 (labels 0 to 2): '
                              'set model.cls_head.num_classes to the number of classes of '
                              'the data (at least 8)')
    assert isinstance(info.value, ValueError)


def test_a_good_dataset_trains(monkeypatch, data_root, tmp_path):
    runner = Runner.from_cfg(_tiny_cfg(monkeypatch, data_root, tmp_path))
    runner.train()
    assert runner.iter == 2


def test_the_flip_map_message_names_the_step_and_the_fix(monkeypatch, data_root, tmp_path):
    cfg = _tiny_cfg(monkeypatch, data_root, tmp_path)
    cfg.merge_from_dict({FLIP_KEY: {0: 1, 1: 0, 2: 4, 4: 2}})
    with pytest.raises(InputError) as info:
        check_labels(_dataset(cfg), 3, 'train_dataloader.dataset')
    assert str(info.value) == (
        'the Flip step train_dataloader.dataset.pipeline.5 maps label 2 to 4, beyond '
        'model.cls_head.num_classes=3: the Something-Something flip maps hold the official '
        'label indices, so for another label set remove the map with '
        f'--cfg-options {FLIP_KEY}=None (or give a map of your own labels)')
    # the option as the message writes it, through MMEngine's DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    cfg.merge_from_dict(parser.parse_args(['--cfg-options', f'{FLIP_KEY}=None']).cfg_options)
    assert cfg.train_dataloader.dataset.pipeline[5].flip_label_map is None
    check_labels(_dataset(cfg), 3, 'train_dataloader.dataset')


def test_wrapped_datasets_are_looked_into(monkeypatch, data_root, tmp_path):
    cfg = _tiny_cfg(monkeypatch, data_root, tmp_path)
    cfg.train_dataloader.dataset.pipeline[5].flip_label_map = {2: 3}
    cfg.train_dataloader.dataset = dict(type='RepeatDataset', times=2,
                                        dataset=cfg.train_dataloader.dataset)
    with pytest.raises(InputError, match=r'--cfg-options train_dataloader\.dataset\.'
                                                r'dataset\.pipeline\.5\.flip_label_map=None'):
        check_labels(_dataset(cfg), 3, 'train_dataloader.dataset')


def test_multi_label_lists_are_checked(tmp_path):
    ann = tmp_path / 'multi.txt'
    ann.write_text('a 8 0 2\nb 8 1\nc 8 2 3\n')
    init_default_scope('mmaction')
    dataset = DATASETS.build(dict(type='RawframeDataset', ann_file=str(ann), pipeline=[],
                                  multi_class=True, num_classes=4, data_prefix=dict(img='')))
    problems = label_problems(dataset, 3)
    assert [(p.places, p.path, p.message) for p in problems] == [
        ([('', str(ann), 3)], 'c', 'label 3: not within num_classes 3')]


def test_a_model_without_a_classifier_is_not_checked():
    assert model_num_classes(SimpleNamespace()) is None
    assert model_num_classes(SimpleNamespace(cls_head=SimpleNamespace(num_classes=5))) == 5


def test_the_check_reads_only_the_annotations(tmp_path):
    ann = tmp_path / 'big.txt'  # no video exists: nothing may be opened
    ann.write_text(''.join(f'video_{i}.webm {i % 174}\n' for i in range(20000)))
    init_default_scope('mmaction')
    dataset = DATASETS.build(dict(type='VideoDataset', ann_file=str(ann), pipeline=[]))
    start = time.perf_counter()
    check_labels(dataset, 174)
    assert time.perf_counter() - start < 5
    with pytest.raises(InputError, match=rf'label 173 on line 174 of {ann} \(113 more '
                                                r'line\(s\) too\) .* \(at least 174\)$'):
        check_labels(dataset, 173)


def test_synthetic_data_with_more_classes_names_the_class_set(tmp_path, monkeypatch):
    data = tmp_path / 'synthetic_motion'  # the generator's default: all 10 classes
    write_dataset(str(data), dict(train=10, val=2), size=16, num_frames=2, layouts=['videos'])
    cfg = Config.fromfile(str(CONFIG_DIR / 'synthetic' / 'msnet_r18_synthetic.py'))
    cfg.merge_from_dict({'train_dataloader.dataset.ann_file': f'{data}/train_list_videos.txt',
                         'train_dataloader.dataset.data_prefix.video': f'{data}/videos',
                         'train_dataloader.num_workers': 0,
                         'train_dataloader.persistent_workers': False,
                         'val_cfg': None, 'val_dataloader': None, 'val_evaluator': None,
                         'work_dir': str(tmp_path / 'work')})
    runner = Runner.from_cfg(cfg)
    with pytest.raises(InputError) as info:
        runner.train()
    message = str(info.value)
    assert 'model.cls_head.num_classes=5' in message and '\n' not in message
    assert message.endswith('; this is tools/data/synthetic_motion.py data with 10 classes '
                            '(its meta.json), the config has 5: write it again with '
                            '--class-set translation')


@pytest.mark.parametrize('path', sorted(p for p in CONFIG_DIR.rglob('*.py')
                                        if not p.name.startswith('_')
                                        and '_base_' not in p.parts),
                         ids=lambda p: str(p.relative_to(CONFIG_DIR)))
def test_the_configs_flip_maps_fit_their_classifiers(path):
    cfg = Config.fromfile(str(path))
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    dataset = SimpleNamespace(pipeline=Compose(cfg.train_dataloader.dataset.pipeline))
    from ms_plugin.datasets.check import flip_map_problems
    assert flip_map_problems(dataset, cfg.model.cls_head.num_classes) == []


@pytest.mark.parametrize('deterministic, level', [(False, logging.INFO),
                                                  (True, logging.WARNING)])
def test_persistent_workers_warn_only_when_exactness_is_asked_for(deterministic, level,
                                                                  monkeypatch):
    """The synthetic configs (persistent workers, deterministic=False) set off no warning."""
    logged = []
    monkeypatch.setattr(rng_state_hook, 'print_log',
                        lambda message, **kwargs: logged.append(kwargs['level']))
    loader = SimpleNamespace(persistent_workers=True, num_workers=1)
    runner = SimpleNamespace(train_loop=SimpleNamespace(dataloader=loader),
                             cfg=Config(dict(randomness=dict(seed=0,
                                                             deterministic=deterministic))))
    RNGStateHook._warn_about_persistent_workers(runner)
    assert logged == [level]
    synthetic = Config.fromfile(str(CONFIG_DIR / 'synthetic' / 'msnet_r18_synthetic.py'))
    assert synthetic.randomness.deterministic is False
    assert synthetic.train_dataloader.persistent_workers is True
