"""Earlier results of pure work, found by a digest of everything that work read.

A stage asks ``memo.recall(table, key)`` before a piece of work whose result is a function of
``key``'s parts alone (``fingerprint`` makes the key), and ``memo.keep(table, key, value)``
after doing it. The shell's cache (``shell/cache.py``) fills a ``Memo`` from the git directory
before a compile and saves what the compile recalled or kept after it, so entries nobody uses
any more drop out. Values are JSON data (str, int, float, bool, None, lists, mappings with
string keys): a cache file is data, never code. A stage checks the shape of what it recalls;
a value of the wrong shape is a miss. ``NO_MEMO`` remembers nothing (``--no-cache``, tests).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def fingerprint(*parts: Any) -> str:
    """A digest of JSON data: equal parts give equal keys, in any process."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Memo:
    """Tables of key -> value; ``used`` is what this run recalled or kept."""

    def __init__(self, tables: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._earlier = tables or {}
        self._used: dict[str, dict[str, Any]] = {}
        self.hits = 0
        self.misses = 0

    def recall(self, table: str, key: str) -> Any | None:
        used = self._used.setdefault(table, {})
        if key in used:
            self.hits += 1
            return used[key]
        value = self._earlier.get(table, {}).get(key)
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        used[key] = value
        return value

    def keep(self, table: str, key: str, value: Any) -> None:
        self._used.setdefault(table, {})[key] = value

    def forget(self, table: str, key: str) -> None:
        """Drop an entry whose value had the wrong shape."""
        self._used.get(table, {}).pop(key, None)

    def used(self) -> dict[str, dict[str, Any]]:
        return {table: dict(entries) for table, entries in self._used.items() if entries}


class _NoMemo(Memo):
    def recall(self, table: str, key: str) -> Any | None:
        return None

    def keep(self, table: str, key: str, value: Any) -> None:
        return None


NO_MEMO: Memo = _NoMemo()
