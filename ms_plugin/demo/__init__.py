"""``make demo`` (``tools/demo.py``): its dataset, its runs, its progress bars and checks.

Not part of the plugin's API: imported by its module path.
"""
