"""The interface a rotated service implements: create a credential, set it, test it."""

from __future__ import annotations

from abc import ABC, abstractmethod

from ._context import RotationContext, SecretDict, require

__all__ = ["RotationStrategy"]


class RotationStrategy(ABC):
    """How one kind of credential is made, installed at its service and checked.

    The protocol calls each method in its own step (createSecret, setSecret,
    testSecret), possibly more than once for the same token after a crash, and possibly
    from concurrent Lambda invocations: each method must be safe to repeat. A strategy
    holds configuration only, so one instance may serve any number of rotations.

    A third-party API key, for example::

        class ApiKey(RotationStrategy):
            def create_credential(self, ctx):
                return {**ctx.current, "api_key": vendor.create_key()}

            def set_credential(self, ctx):
                pass  # the vendor made the key live when it created it

            def test_credential(self, ctx):
                vendor.whoami(ctx.pending["api_key"])
    """

    def create_credential(self, ctx: RotationContext) -> SecretDict:
        """The AWSPENDING value: by default AWSCURRENT with a new random ``password``.

        Runs only while the token has no value yet; nothing may be changed at the
        service here (setSecret does that).
        """
        require(ctx.current, "password", secret_id=ctx.secret_id, what="AWSCURRENT")
        return {**ctx.current, "password": ctx.random_password()}

    @abstractmethod
    def set_credential(self, ctx: RotationContext) -> None:
        """Make ``ctx.pending`` valid at the service (a no-op if it already is)."""

    @abstractmethod
    def test_credential(self, ctx: RotationContext) -> None:
        """Raise if ``ctx.pending`` does not work at the service."""
