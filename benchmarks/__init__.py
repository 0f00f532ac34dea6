"""Side-by-side benchmarks of secretcache against aws-secretsmanager-caching and Powertools.

Run with ``python -m benchmarks`` (``--quick`` for a short smoke run); ``secretcache bench``
calls :func:`main` in a fresh interpreter at the checkout's root.
"""

from .run import main

__all__ = ["main"]
