"""Expanding a scenario into probes: the calendar, the balanced design, the plan's records."""
