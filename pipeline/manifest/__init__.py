"""Manifests: the schema, safe loading with positions, and validation across files."""
