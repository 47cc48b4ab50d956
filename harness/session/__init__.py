"""The application layer: what a command does once its arguments are parsed.

Load a scenario (with its channels completed from the adapter registry and its plan bounded),
check whether its channels can run live, run it in a run folder (simulated or live). The CLI
parses arguments, calls these and prints; tests, benchmarks and any other front end call them
too. Building a report lives in :mod:`harness.report.build`, reading results in
:mod:`harness.analysis`.
"""
