"""What the command-line tools share: argument definitions and the one exit path.

Only the tools in ``tools/`` import this module. The package raises
:class:`~ms_plugin.utils.errors.InputError` for a refused input and never
exits; :func:`run_tool` turns that error into one line and exit status 2, and
only a tool's ``if __name__ == '__main__'`` line ends the process with the
status it returns.
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
from typing import Callable, Optional, Sequence

import torch
from mmengine.config import DictAction

from .utils.errors import InputError

__all__ = [
    'REFUSED_STATUS', 'run_tool', 'tool_parser', 'add_cfg_options', 'add_seed', 'add_timing_args',
    'apply_timing_args', 'add_work_dir', 'add_launch_arguments', 'parse_launch_args',
    'check_config', 'check_input', 'check_model_files', 'check_output_dir', 'check_output_file'
]

# The exit status of a refused input, in every tool (argparse uses 2 too).
REFUSED_STATUS = 2
LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')
LAUNCHER_HELP = (
    'job launcher. "none" runs one process; "pytorch" is for torchrun '
    '(tools/dist_train.sh), "slurm" for srun (tools/slurm_train.sh), "mpi" for mpirun. '
    'Without CUDA, a distributed launch runs on the CPU with the gloo backend.')
CFG_OPTIONS_HELP = (
    'override config entries with key=value pairs, e.g. '
    'train_dataloader.batch_size=4 model.cls_head.num_classes=174. A list is '
    'written key="[a,b]" or key=a,b; nested lists/tuples key="[(a,b),(c,d)]". '
    'Quote the value and leave no spaces inside it.')


def tool_parser(doc: str) -> argparse.ArgumentParser:
    """A tool's parser, described by the first paragraph of its docstring ``doc``."""
    return argparse.ArgumentParser(description=doc.strip().split('\n\n')[0])


def add_cfg_options(parser: argparse.ArgumentParser, default: Optional[dict] = None) -> None:
    """``--cfg-options KEY=VALUE ...`` (MMEngine's DictAction), ``default`` without it."""
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=default,
                        help=CFG_OPTIONS_HELP)


def add_seed(parser: argparse.ArgumentParser, of: str) -> None:
    """``--seed`` of ``of`` (for the help, e.g. ``'the random frames'``), 0 by default."""
    parser.add_argument('--seed', type=int, default=0, help=f'seed of {of}. Defaults to 0')


def add_timing_args(parser: argparse.ArgumentParser, repeats: int, warmup: int,
                    threads: bool = True) -> None:
    """``--repeats`` and ``--warmup`` of a timing tool, and ``--threads`` if asked.

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
        repeats (int): Default of ``--repeats`` (timed repeats; their median counts).
        warmup (int): Default of ``--warmup`` (untimed repeats first).
        threads (bool): Whether to add ``--threads`` (torch's CPU threads,
            default torch's choice). Defaults to True.
    """
    parser.add_argument('--repeats', type=int, default=repeats, help='timed repeats (median)')
    parser.add_argument('--warmup', type=int, default=warmup, help='untimed first repeats')
    if threads:
        parser.add_argument('--threads', type=int, default=None,
                            help='torch CPU threads (default: torch\'s choice)')


def apply_timing_args(args: argparse.Namespace) -> None:
    """Set torch's CPU threads to ``args.threads``, if the tool has it and it is set.

    Args:
        args (argparse.Namespace): The parsed arguments of a timing tool.
    """
    threads = getattr(args, 'threads', None)
    if threads:
        torch.set_num_threads(threads)


def add_work_dir(parser: argparse.ArgumentParser, contents: str) -> None:
    """``--work-dir`` for ``contents`` (for the help, e.g. ``'logs and checkpoints'``)."""
    parser.add_argument(
        '--work-dir', help=f'folder for {contents}. Defaults to the config\'s work_dir, '
        'else work_dirs/<config name>')


def add_launch_arguments(parser: argparse.ArgumentParser) -> None:
    """``--cfg-options``, ``--launcher`` and the ``--local-rank`` that launchers pass."""
    add_cfg_options(parser)
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none', help=LAUNCHER_HELP)
    # torch.distributed.launch passes --local-rank (older torch: --local_rank).
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help=argparse.SUPPRESS)


def parse_launch_args(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """Add the launch arguments (:func:`add_launch_arguments`) and parse ``argv``.

    A launcher's ``--local-rank`` becomes ``LOCAL_RANK`` (MMEngine reads it).
    """
    add_launch_arguments(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def check_input(path: Optional[str], what: str, folder_ok: bool = False) -> None:
    """Refuse a missing input file (or folder, with ``folder_ok``) named ``what``; None passes."""
    if path is None or '://' in str(path):  # URLs are checked by whoever downloads them
        return
    if osp.isfile(path) or (folder_ok and osp.isdir(path)):
        return
    if osp.isdir(path):
        raise InputError(f'{what} {path} is a folder; give a file.')
    raise InputError(f'{what} {path} does not exist.')


def check_config(path: str) -> None:
    """Refuse a config path that is not a ``.py`` file that exists."""
    check_input(path, 'config')
    if not str(path).endswith('.py'):
        raise InputError(f'config {path} is not a .py config file.')


def check_model_files(config: str, checkpoint: Optional[str]) -> None:
    """Refuse a config as :func:`check_config` does, then a missing checkpoint (None passes)."""
    check_config(config)
    check_input(checkpoint, 'checkpoint')


def check_output_dir(path: Optional[str], what: str = 'output folder') -> None:
    """Refuse an output folder that cannot be created or written, before any work.

    The folder is created when missing; a test file is written and removed.
    """
    if not path:
        return
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix='.ms_plugin_write_test_'):
            pass
    except OSError as err:
        reason = err.strerror or str(err)
        raise InputError(f'{what} {path} cannot be written ({reason}); '
                         'choose a folder you can write to.') from err


def check_output_file(path: str, what: str = 'output folder') -> None:
    """Refuse an output file whose folder (``what``) cannot be created or written."""
    check_output_dir(osp.dirname(osp.abspath(path)), what)


def run_tool(main: Callable[..., Optional[int]], argv: Optional[Sequence[str]] = None) -> int:
    """Run a tool's ``main(argv)``; an :class:`InputError` becomes one line and status 2.

    Args:
        main (Callable): The tool's main function; it returns None (success)
            or an exit status.
        argv (Sequence[str], optional): The arguments; None reads ``sys.argv``.

    Returns:
        int: The exit status: ``main``'s, 0 for None, :data:`REFUSED_STATUS`
        after printing ``<tool>: error: <message>`` on stderr.
    """
    try:
        status = main(argv)
    except InputError as err:
        tool = osp.basename(sys.argv[0]) or 'ms_plugin'
        print(f'{tool}: error: {err}', file=sys.stderr)
        return REFUSED_STATUS
    return int(status or 0)
