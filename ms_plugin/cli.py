"""What the command-line tools share: argument definitions and the one exit path.

Only the tools in ``tools/`` import this module. Its functions take plain
arguments; the one that turns a refused input into a status is
:func:`run_tool`, and only a tool's ``if __name__ == '__main__'`` line exits::

    if __name__ == '__main__':
        sys.exit(run_tool(main))
"""
import os.path as osp
import sys
from typing import Callable, Optional, Sequence

from .utils.errors import InputError

__all__ = ['REFUSED_STATUS', 'run_tool']

# The exit status of a refused input, in every tool (argparse uses 2 too).
REFUSED_STATUS = 2


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
