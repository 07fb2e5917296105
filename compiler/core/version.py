"""The one place fleetc's version is written: pyproject.toml reads it (``dynamic``), ``fleetc
--version`` prints it, CHANGELOG.md has a section for it, and releases are tagged v<it>."""

__version__ = "0.2.0"
