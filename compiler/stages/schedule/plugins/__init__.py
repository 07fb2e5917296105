"""Scheduler plugins, one module each; their order is set in ``..profile``."""
