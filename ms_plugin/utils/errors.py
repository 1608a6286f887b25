"""The one error type for a refused input."""

__all__ = ['InputError']


class InputError(ValueError):
    """A refused input: a path, a file, a config value or an argument.

    The message names the problem and what to do, in one line where it can.
    Library code raises it and never exits; a tool's entry point
    (``ms_plugin.cli.run_tool``) prints it as ``<tool>: error: <message>`` and
    returns exit status 2 (argparse's status for a bad command line).
    """
