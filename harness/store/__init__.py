"""The run store (one SQLite file per run) and the run folder that holds it."""
