"""Modules registered in ``mmaction.registry.MODELS`` (registry name = class name)."""
