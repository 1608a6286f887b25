"""ms_plugin.cli (what the tools share) and ms_plugin.engine.runner (the runs they start)."""
import argparse
import os
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from ms_plugin.cli import (REFUSED_STATUS, add_cfg_options, add_seed, add_timing_args,
                           add_work_dir, apply_timing_args, check_model_files,
                           check_output_file, parse_launch_args, run_tool, tool_parser)
from ms_plugin.engine import runner
from ms_plugin.utils.errors import InputError


def test_tool_parser_is_described_by_the_first_paragraph_of_the_docstring():
    parser = tool_parser('Do one thing\nwell.\n\nDetails that --help leaves out.\n')
    assert 'Do one thing well.' in parser.format_help()
    assert 'Details' not in parser.format_help()


def test_add_cfg_options_parses_key_value_pairs():
    parser = argparse.ArgumentParser()
    add_cfg_options(parser)
    assert parser.parse_args([]).cfg_options is None
    args = parser.parse_args(['--cfg-options', 'a.b=1', 'c=[2,3]', 'd=x'])
    assert args.cfg_options == {'a.b': 1, 'c': [2, 3], 'd': 'x'}
    parser = argparse.ArgumentParser()
    add_cfg_options(parser, default={})
    assert parser.parse_args([]).cfg_options == {}


def test_add_seed_and_add_work_dir():
    parser = argparse.ArgumentParser()
    add_seed(parser, 'the random frames')
    add_work_dir(parser, 'logs and checkpoints')
    assert vars(parser.parse_args([])) == dict(seed=0, work_dir=None)
    assert vars(parser.parse_args(['--seed', '7', '--work-dir', 'w'])) == dict(seed=7,
                                                                              work_dir='w')
    with pytest.raises(SystemExit):
        parser.parse_args(['--seed', 'x'])


def test_parse_launch_args_adds_the_launch_arguments(monkeypatch):
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    args = parse_launch_args(parser, ['c.py', '--launcher', 'pytorch', '--local-rank', '3',
                                      '--cfg-options', 'a=1'])
    assert (args.config, args.launcher, args.local_rank) == ('c.py', 'pytorch', 3)
    assert args.cfg_options == {'a': 1}
    assert os.environ['LOCAL_RANK'] == '3'


def test_check_model_files_names_the_first_unusable_path(tmp_path: Path):
    config = tmp_path / 'model.py'
    config.write_text('model = dict()\n')
    checkpoint = tmp_path / 'model.pth'
    checkpoint.write_bytes(b'')
    check_model_files(str(config), str(checkpoint))
    check_model_files(str(config), None)
    with pytest.raises(InputError, match=f'^config {tmp_path / "missing.py"} does not exist'):
        check_model_files(str(tmp_path / 'missing.py'), str(tmp_path / 'missing.pth'))
    with pytest.raises(InputError, match='is not a .py config file'):
        check_model_files(str(checkpoint), None)
    with pytest.raises(InputError, match=f'^checkpoint {tmp_path / "missing.pth"} does not'):
        check_model_files(str(config), str(tmp_path / 'missing.pth'))


def test_check_output_file_checks_and_creates_the_folder(tmp_path: Path):
    check_output_file(str(tmp_path / 'new' / 'deeper' / 'out.png'), '--out folder')
    assert (tmp_path / 'new' / 'deeper').is_dir()
    (tmp_path / 'a_file').write_text('')
    with pytest.raises(InputError, match=f'^--out folder {tmp_path / "a_file"} cannot be'):
        check_output_file(str(tmp_path / 'a_file' / 'out.png'), '--out folder')
    with pytest.raises(InputError, match='^output folder '):
        check_output_file(str(tmp_path / 'a_file' / 'sub' / 'out.pth'))


def test_run_tool_turns_a_refused_input_into_one_line_and_status_2(capsys):

    def refuses(argv):
        raise InputError(f'{argv[0]} does not exist.')

    assert run_tool(refuses, ['x.pth']) == REFUSED_STATUS == 2
    err = capsys.readouterr().err
    assert err.endswith('error: x.pth does not exist.\n') and err.count('\n') == 1
    assert run_tool(lambda argv: None) == 0
    assert run_tool(lambda argv: 1) == 1
    with pytest.raises(ZeroDivisionError):  # a bug is not a refused input: its traceback shows
        run_tool(lambda argv: 1 / 0)


def _cfg(content: dict, filename: str = 'configs/my_model.py') -> Config:
    return Config(content, cfg_text='# in memory', filename=filename)


def test_merge_train_args_writes_each_choice(tmp_path):
    cfg = _cfg(dict(optim_wrapper=dict(type='OptimWrapper'), randomness=dict(seed=1),
                    auto_scale_lr=dict(enable=False, base_batch_size=8), val_cfg=dict()))
    runner.merge_train_args(cfg, launcher='pytorch', resume='auto', amp=True, no_validate=True,
                            auto_scale_lr=True, seed=5, deterministic=True,
                            cfg_options={'randomness.seed': 6})
    assert cfg.launcher == 'pytorch' and cfg.resume is True and cfg.load_from is None
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and cfg.val_cfg is None
    assert cfg.auto_scale_lr.enable is True
    assert cfg.randomness == dict(seed=6, deterministic=True)  # cfg_options go last
    with pytest.raises(InputError, match='MS_DATA_ROOT'):
        runner.merge_train_args(cfg, cfg_options={'data_root': 'x'})
    with pytest.raises(InputError, match='auto_scale_lr'):
        runner.merge_train_args(_cfg(dict()), auto_scale_lr=True)


def test_merge_test_args_adds_dump_and_fuse_hooks():
    cfg = _cfg(dict(test_evaluator=dict(type='AccMetric')))
    runner.merge_test_args(cfg, 'ck.pth', dump='p.pkl', fuse_conv_bn=True)
    assert cfg.load_from == 'ck.pth'
    assert [e['type'] for e in cfg.test_evaluator] == ['AccMetric', 'DumpResults']
    assert cfg.custom_hooks[-1]['type'] == 'FuseConvBNHook'
    with pytest.raises(InputError, match='.pkl'):
        runner.merge_test_args(cfg, 'ck.pth', dump='p.json')


@pytest.mark.parametrize('merge', [runner.merge_train_args,
                                   lambda cfg, **kw: runner.merge_test_args(cfg, 'c.pth', **kw)])
def test_work_dir_is_the_option_else_the_configs_else_the_default(merge):
    assert merge(_cfg(dict()), work_dir='w').work_dir == 'w'
    assert merge(_cfg(dict(work_dir='mine')), work_dir='w').work_dir == 'w'
    assert merge(_cfg(dict(work_dir='mine'))).work_dir == 'mine'
    assert merge(_cfg(dict())).work_dir == str(Path('work_dirs') / 'my_model')


def test_run_and_tear_down_sets_the_process_group_up_first(monkeypatch):
    calls = []

    class FakeRunner:

        def register_hook(self, hook):
            calls.append(f'hook {hook}')

        def test(self):
            calls.append('test')
            return dict(top1=1.0)

    monkeypatch.setattr(runner, 'setup_cpu_distributed', lambda cfg: calls.append('set up'))
    monkeypatch.setattr(runner, '_check_annotation_files',
                        lambda cfg, action: calls.append(f'check {action}'))
    monkeypatch.setattr(runner.Runner, 'from_cfg', lambda cfg: FakeRunner())
    result = runner.run_and_tear_down(Config(dict(launcher='none')), 'test', hooks=('bar', ))
    assert result == dict(top1=1.0)
    assert calls == ['set up', 'check test', 'hook bar', 'test']


def test_annotation_files_are_found_inside_dataset_wrappers(tmp_path):
    (tmp_path / 'a.txt').write_text('')
    missing = tmp_path / 'b.txt'
    cfg = Config(dict(test_dataloader=dict(dataset=dict(
        type='ConcatDataset', datasets=[
            dict(type='RepeatDataset', times=2, dataset=dict(ann_file=str(tmp_path / 'a.txt'))),
            dict(type='ClassBalancedDataset', oversample_thr=0.1,
                 dataset=dict(ann_file='b.txt', data_root=str(tmp_path)))]))))
    with pytest.raises(InputError, match=f'{missing} .test_dataloader. does not exist'):
        runner._check_annotation_files(cfg, 'test')


def test_timing_args_set_torch_threads_only_when_given():
    parser = argparse.ArgumentParser()
    add_timing_args(parser, repeats=7, warmup=2)
    args = parser.parse_args([])
    assert (args.repeats, args.warmup, args.threads) == (7, 2, None)
    before = torch.get_num_threads()
    try:
        apply_timing_args(args)  # torch's choice: unchanged
        assert torch.get_num_threads() == before
        apply_timing_args(parser.parse_args(['--threads', str(before + 1)]))
        assert torch.get_num_threads() == before + 1
    finally:
        torch.set_num_threads(before)
