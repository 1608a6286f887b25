"""Helpers with no registered modules, for ``ms_plugin.apis``, the datasets,
the visualization, the tools and the tests (the models do not import them).

- ``checkpoint``: the one safe reader of checkpoint files, one clear error per
  unreadable file, resume choice, key-mismatch reports;
- ``official_ckpt``: the key map from the authors' checkpoints to this
  plugin's MSNet;
- ``video``: the one video writer.
"""
