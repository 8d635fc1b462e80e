"""The monitoring dashboard: Flower and the saga view, behind one login.

`python -m orchestrator.entrypoints.dashboard [flower options]` runs it (see `__main__`); `app`
builds it.
"""
