"""Monitoring a run as it goes: the alert state machine (``alerting``), what a notification
says (``messages``), delivery through Apprise (``delivery``) and the rounds a running run does
(``watch``). Above the runner and the report, below the application layer."""
