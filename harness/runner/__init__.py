"""The clock-driven loop that sends probes, polls channels and records what comes back."""
