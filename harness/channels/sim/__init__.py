"""The simulated platform behind the ``simulated`` channel adapter."""
