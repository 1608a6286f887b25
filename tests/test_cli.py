"""ms_plugin.apis.cli and the run helpers the tools share: arguments, entry checks, set-up."""
import argparse
import os
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from ms_plugin.apis import (CFG_OPTIONS_HELP, EntryError, add_cfg_options, add_seed,
                            add_timing_args, add_work_dir, apply_timing_args,
                            check_model_files, check_output_file, parse_launch_args, runner,
                            tool_parser)


def _help_of(parser: argparse.ArgumentParser, dest: str) -> str:
    return next(action.help for action in parser._actions if action.dest == dest)


def test_tool_parser_is_described_by_the_first_paragraph_of_the_docstring():
    parser = tool_parser('Do one thing\nwell.\n\nDetails that --help leaves out.\n')
    assert parser.description == 'Do one thing\nwell.'
    assert 'Do one thing well.' in parser.format_help()
    assert 'Details' not in parser.format_help()


def test_add_cfg_options_parses_key_value_pairs():
    parser = argparse.ArgumentParser()
    add_cfg_options(parser)
    assert parser.parse_args([]).cfg_options is None
    args = parser.parse_args(['--cfg-options', 'a.b=1', 'c=[2,3]', 'd=x'])
    assert args.cfg_options == {'a.b': 1, 'c': [2, 3], 'd': 'x'}
    assert _help_of(parser, 'cfg_options') == CFG_OPTIONS_HELP

    parser = argparse.ArgumentParser()
    add_cfg_options(parser, default={})
    assert parser.parse_args([]).cfg_options == {}


def test_add_seed_and_add_work_dir_help():
    parser = argparse.ArgumentParser()
    add_seed(parser, 'the random frames')
    add_work_dir(parser, 'logs and checkpoints')
    args = parser.parse_args([])
    assert args.seed == 0 and args.work_dir is None
    assert parser.parse_args(['--seed', '7', '--work-dir', 'w']).seed == 7
    assert _help_of(parser, 'seed') == 'seed of the random frames. Defaults to 0'
    assert _help_of(parser, 'work_dir') == (
        "folder for logs and checkpoints. Defaults to the config's work_dir, else "
        'work_dirs/<config name>')
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
    with pytest.raises(EntryError, match=f'^config {tmp_path / "missing.py"} does not exist'):
        check_model_files(str(tmp_path / 'missing.py'), str(tmp_path / 'missing.pth'))
    with pytest.raises(EntryError, match='is not a .py config file'):
        check_model_files(str(checkpoint), None)
    with pytest.raises(EntryError, match=f'^checkpoint {tmp_path / "missing.pth"} does not'):
        check_model_files(str(config), str(tmp_path / 'missing.pth'))


def test_check_output_file_checks_and_creates_the_folder(tmp_path: Path):
    check_output_file(str(tmp_path / 'new' / 'deeper' / 'out.png'), '--out folder')
    assert (tmp_path / 'new' / 'deeper').is_dir()
    (tmp_path / 'a_file').write_text('')
    with pytest.raises(EntryError, match=f'^--out folder {tmp_path / "a_file"} cannot be'):
        check_output_file(str(tmp_path / 'a_file' / 'out.png'), '--out folder')
    with pytest.raises(EntryError, match='^output folder '):
        check_output_file(str(tmp_path / 'a_file' / 'sub' / 'out.pth'))


def _train_args(**kwargs) -> argparse.Namespace:
    values = dict(config='configs/my_model.py', cfg_options=None, launcher='none',
                  work_dir=None, no_validate=False, amp=False, resume=None, auto_scale_lr=False,
                  seed=None, diff_rank_seed=False, deterministic=False)
    values.update(kwargs)
    return argparse.Namespace(**values)


def _test_args(**kwargs) -> argparse.Namespace:
    values = dict(config='configs/my_model.py', checkpoint='ck.pth', cfg_options=None,
                  launcher='none', work_dir=None, show=False, show_dir=None, dump=None,
                  fuse_conv_bn=False)
    values.update(kwargs)
    return argparse.Namespace(**values)


@pytest.mark.parametrize('merge, make_args', [(runner.merge_train_args, _train_args),
                                              (runner.merge_test_args, _test_args)])
def test_work_dir_is_the_option_else_the_configs_else_the_default(merge, make_args):
    assert merge(Config(dict()), make_args(work_dir='w')).work_dir == 'w'
    assert merge(Config(dict(work_dir='mine')), make_args(work_dir='w')).work_dir == 'w'
    assert merge(Config(dict(work_dir='mine')), make_args()).work_dir == 'mine'
    assert merge(Config(dict()), make_args()).work_dir == str(Path('work_dirs') / 'my_model')


def test_run_and_tear_down_sets_the_process_group_up_first(monkeypatch):
    calls = []

    class FakeRunner:

        def test(self):
            calls.append('test')
            return dict(top1=1.0)

    monkeypatch.setattr(runner, 'setup_cpu_distributed', lambda cfg: calls.append('set up'))
    monkeypatch.setattr(runner, 'check_annotation_files',
                        lambda cfg, action: calls.append(f'check {action}'))
    monkeypatch.setattr(runner, 'build_runner', lambda cfg: FakeRunner())
    assert runner.run_and_tear_down(Config(dict(launcher='none')), 'test') == dict(top1=1.0)
    assert calls == ['set up', 'check test', 'test']


def test_add_timing_args_defaults_and_threads():
    parser = argparse.ArgumentParser()
    add_timing_args(parser, repeats=7, warmup=2)
    args = parser.parse_args([])
    assert (args.repeats, args.warmup, args.threads) == (7, 2, None)
    assert parser.parse_args(['--repeats', '3', '--threads', '2']).threads == 2
    parser = argparse.ArgumentParser()
    add_timing_args(parser, repeats=10, warmup=3, threads=False)
    assert not hasattr(parser.parse_args([]), 'threads')
    with pytest.raises(SystemExit):
        parser.parse_args(['--threads', '2'])


def test_apply_timing_args_sets_torch_threads_only_when_given():
    before = torch.get_num_threads()
    try:
        apply_timing_args(argparse.Namespace(threads=None))  # torch's choice: unchanged
        apply_timing_args(argparse.Namespace())  # a tool without --threads
        assert torch.get_num_threads() == before
        apply_timing_args(argparse.Namespace(threads=before + 1))
        assert torch.get_num_threads() == before + 1
    finally:
        torch.set_num_threads(before)
