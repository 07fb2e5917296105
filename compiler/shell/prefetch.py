"""What a render's write needs to know about the disk, found by a second process while the
render compiles.

Comparing the new tree with the live one and bringing the shadow up to it start from three
looks at the disk: which live files are as the manifest recorded them (``Cache.steady``, one
``lstat`` a file), the live tree's listing (``Cache.listing``) and the shadow's
(``writer.encode_scan``). None of them depends on the compile, so when the output is large a
forked child (``fanout.Child``) makes them on the second core while the render compiles on the
first. The render holds the repository's lock from before the child starts until it has
written, so no other render changes either tree in between. A user's edit in that time is
found by the next run, as the manifest records each file with the status the child saw.
"""

from __future__ import annotations

import marshal
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from . import fanout, writer
from .cache import Cache, Steady


@dataclass(frozen=True)
class Prefetched:
    """The looks at one output folder: ``steady`` is None when the cache has no manifest of
    it (git's index vouches then); ``shadow_scan`` is None when there was no shadow."""

    steady: Steady | None
    listing: writer.Listing
    shadow_scan: bytes | None


class Prefetch:
    """The looks at ``output`` being made by a child process."""

    def __init__(self, cache: Cache, key: str, output: Path) -> None:
        self.output = os.path.abspath(output)
        shadow = writer.shadow_path(cache.root, output)
        self._child: fanout.Child | None = fanout.Child(
            lambda: _encode(_look(cache, key, output, shadow))
        )

    def result(self, output: Path) -> Prefetched | None:
        """The looks, when they were made at ``output`` and the child finished; else None
        (the render then looks itself)."""
        child, self._child = self._child, None
        if child is None:
            return None
        if os.path.abspath(output) != self.output:
            child.stop()
            return None
        try:
            return _decode(child.result())
        except (OSError, ValueError, EOFError):  # the child failed, or died mid-answer
            return None

    def stop(self) -> None:
        """Kill the child if its looks were not taken."""
        child, self._child = self._child, None
        if child is not None:
            child.stop()


def planned(cache: Cache) -> Path | None:
    """The output folder the last compile under the key ``lookup`` looked up wrote, when it
    had at least ``fanout.PARALLEL_MIN`` files (a smaller one is looked at in no time)."""
    if cache.last_output is None:
        return None
    rel, count = cache.last_output
    return cache.root / rel if count >= fanout.PARALLEL_MIN else None


def start(cache: Cache, key: str, output: Path) -> Prefetch | None:
    """The looks at ``output`` (``planned``) for the compile under ``key``; the caller holds
    the repository's lock, and calls ``result`` or ``stop``. None without a second process."""
    try:
        return Prefetch(cache, key, output)
    except OSError:
        return None


def _look(cache: Cache, key: str, output: Path, shadow: Path) -> Prefetched:
    steady = cache.steady(output, key)
    listing = cache.listing(output, key) or writer.listing(output)
    try:
        real = stat.S_ISDIR(os.lstat(shadow).st_mode)
    except OSError:
        real = False
    return Prefetched(steady, listing, writer.encode_scan(shadow) if real else None)


def _encode(found: Prefetched) -> bytes:
    """``marshal``: the child is a fork of this very interpreter, which alone reads the bytes,
    over a pipe; about five times quicker both ways than JSON for these tens of thousands of
    paths. Plain data only (no code object is ever made or run)."""
    listing = found.listing
    return marshal.dumps(
        (found.steady, listing.entries, sorted(listing.bootstrapped), found.shadow_scan)
    )


def _decode(data: bytes) -> Prefetched:
    steady, entries, bootstrapped, scan = marshal.loads(data)
    return Prefetched(steady, writer.Listing(entries, set(bootstrapped)), scan)
