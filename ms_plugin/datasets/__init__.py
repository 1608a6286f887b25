"""Dataset checks: one probe per input kind, one walker over a config's datasets."""
