"""Helpers behind the plugin's command-line tools (no model registration here)."""
