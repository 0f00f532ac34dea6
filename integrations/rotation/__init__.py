"""Rotation functions for Secrets Manager: the four-step protocol as a tested library.

::

    from secretcache.integrations.rotation import make_handler
    from secretcache.integrations.rotation.postgresql import SingleUser

    lambda_handler = make_handler(SingleUser())

``rotate(client, secret_id, strategy)`` runs the same four steps without Lambda.
Strategies for databases live in ``.postgresql`` (psycopg 3) and ``.mysql`` (PyMySQL);
any other credential plugs in by subclassing ``RotationStrategy``.
"""

from __future__ import annotations

from ._context import (
    DEFAULT_EXCLUDE_CHARACTERS,
    PasswordPolicy,
    RotationClient,
    RotationContext,
    SecretDict,
)
from ._protocol import STEPS, RotationStep, make_handler, rotate, run_step
from ._strategy import RotationStrategy

__all__ = [
    "DEFAULT_EXCLUDE_CHARACTERS",
    "STEPS",
    "PasswordPolicy",
    "RotationClient",
    "RotationContext",
    "RotationStep",
    "RotationStrategy",
    "SecretDict",
    "make_handler",
    "rotate",
    "run_step",
]
