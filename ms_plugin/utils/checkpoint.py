"""Safe reading of checkpoint files for the command-line tools."""
from typing import Dict

import torch


def load_checkpoint_dict(path: str, hint: str) -> Dict[str, object]:
    """``torch.load(path, weights_only=True)`` of a file that must hold a dict.

    Args:
        path (str): The checkpoint file.
        hint (str): What the user should know when the safe unpickler refuses
            the file (which files the tool expects).

    Returns:
        dict: The loaded checkpoint.

    Raises:
        SystemExit: With a message naming the file and the problem.
    """
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # the unpickler's errors have many types
        raise SystemExit(f'error: cannot read {path} with torch.load(weights_only=True): '
                         f'{err}\n{hint}') from err
    if not isinstance(checkpoint, dict):
        raise SystemExit(f'error: {path} holds a {type(checkpoint).__name__}, not a checkpoint '
                         'dict.')
    return checkpoint
