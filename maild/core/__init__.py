"""The pure domain core: models, playbooks, timing and the follow-up engine.

Nothing under ``maild.core`` performs I/O or reads the clock; callers pass ``now``.
"""
