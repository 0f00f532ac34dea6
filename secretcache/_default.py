"""The process-wide cache that integrations share unless given one."""

from __future__ import annotations

import threading

from ._cache import SecretCache

__all__ = ["default_cache", "set_default_cache"]

_lock = threading.Lock()
_default: SecretCache | None = None


def default_cache() -> SecretCache:
    """The process's shared SecretCache, created on first use with default settings.

    Kept at module level it survives Lambda warm starts: a warm invocation reads from
    memory instead of calling Secrets Manager.
    """
    cache = _default
    if cache is None:
        with _lock:
            if _default is None:
                set_default_cache(SecretCache())
            cache = _default
    assert cache is not None
    return cache


def set_default_cache(cache: SecretCache | None) -> None:
    """Replace the shared cache (``None``: create a new one on next use)."""
    global _default  # noqa: PLW0603  # the one process-wide slot this module exists for
    _default = cache
