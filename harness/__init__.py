"""Mystery-shopper experiment harness for social customer service.

Data flows one way: scenario -> plan -> runner -> channels; store -> analysis -> report.
"""

__version__ = "0.2.0"
