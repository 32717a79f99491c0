"""Renderers of data models: Python models and JSON Schema, one per profile."""
