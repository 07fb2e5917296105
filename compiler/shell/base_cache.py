"""``fleetc diff``'s base, compiled once per commit: its side of the diff (``views.diff_side``)
kept in the cache folder of the git directory, beside the cache's other files.

A commit never changes, so its compilation is a function of the commit, the fleet's folder in
the repository, the options and fleetc's own code: the key. An entry holds the key and the
side as zlib-compressed JSON, in the cache's file format (a magic line and the payload's
digest). A truncated, altered or foreign entry, or data of another shape, is a miss; the
base is then compiled and the entry written afresh. Only bases that compile are kept, and only
the last ``KEEP`` entries.
"""

from __future__ import annotations

import gc
import json
import os
import zlib
from contextlib import suppress
from typing import Any

from ..pipeline import Options
from ..views import diff_side
from .cache import Cache, code_fingerprint, digest

PREFIX = "base-"
# Entries kept: a pull request's base, main, and a few more.
KEEP = 4


class BaseCache(Cache):
    """The cache of one fleet, with the bases of its diffs."""

    def base_key(self, commit: str, prefix: str, options: Options) -> str | None:
        """The key of the base at ``commit`` (full id) whose fleet is in folder ``prefix`` of
        the repository; None when the options are not those of a plain compile."""
        if options.action is not None:
            return None
        parts = {
            "format": diff_side.FORMAT,
            "commit": commit,
            "prefix": prefix,
            "code": code_fingerprint(),
            "strict": bool(options.strict),
            "reschedule": sorted(options.reschedule),
        }
        return digest(json.dumps(parts, sort_keys=True).encode())

    def _name(self, key: str) -> str:
        return f"{PREFIX}{key[:32]}.json"

    def recall_base(self, key: str | None) -> diff_side.Side | None:
        if not self.enabled or key is None:
            return None
        payload = self._read_raw(self._name(key))
        if payload is None:
            return None
        # Tens of thousands of small containers, none in a cycle: the collector would walk
        # them again and again while they are made.
        collecting = gc.isenabled()
        gc.disable()
        try:
            entry = json.loads(zlib.decompress(payload))
            good = isinstance(entry, dict) and entry.get("key") == key
            side = diff_side.from_data(entry.get("side")) if good else None
        except (ValueError, RecursionError, zlib.error):
            return None
        finally:
            if collecting:
                gc.enable()
        if side is not None:
            with suppress(OSError):
                os.utime(self.folder / self._name(key))  # recently used: pruned last
        return side

    def store_base(self, key: str | None, side: diff_side.Side) -> None:
        if not self.enabled or key is None:
            return
        data = diff_side.to_data(side)
        if data is None:
            return
        entry: dict[str, Any] = {"key": key, "side": data}
        try:
            payload = json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode()
        except ValueError:  # a string that UTF-8 cannot hold (a lone surrogate)
            return
        self._write_raw(self._name(key), zlib.compress(payload, 1))
        self._prune(self._name(key))

    def _prune(self, kept: str) -> None:
        """Delete all but the ``KEEP`` most recently used entries (``kept`` among them)."""
        try:
            entries = [e for e in os.scandir(self.folder) if e.name.startswith(PREFIX)]
            entries.sort(key=lambda e: (e.name == kept, e.stat().st_mtime_ns), reverse=True)
            for entry in entries[KEEP:]:
                os.unlink(entry.path)
        except OSError:
            pass  # another run pruned them first
