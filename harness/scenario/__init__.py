"""Scenario files: safe YAML loading with positions, the model, and every check before a run."""
