"""Race reports: charts, a self-contained HTML page, a poster, and the data behind them.

A report is a pure function of a run's store: rebuild it at any time, even mid-run.
"""
