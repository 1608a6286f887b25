"""Helpers without registered modules: checkpoint files (reading, comparing, publishing),
the key map of the authors' checkpoints, the video writer, the one input error type."""
