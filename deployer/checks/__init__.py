"""Checks evaluated at every poll of every bake, approval wait and the final bake."""
