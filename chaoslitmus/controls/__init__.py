"""Chaos Toolkit controls shipped with chaostoolkit-litmus."""
