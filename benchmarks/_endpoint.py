"""The one endpoint every library is measured against, and the probes on each library's client.

moto's server runs in this process on 127.0.0.1 (a free port); every library gets its own
real botocore client talking HTTP to it. Each such client carries a :class:`Probe`:

- API calls are counted with botocore's ``before-call.secrets-manager`` event (one event per
  operation a library invokes; retries are disabled, so one call is one HTTP request), and the
  outcome with ``after-call`` / ``after-call-error``.
- Latency and outages are injected with a ``before-send`` handler on that client: it sleeps
  for the configured latency, then either lets the request go to moto or answers it with an
  HTTP 500 ``InternalServiceError``. The handler runs inside the library's call to the botocore
  client, exactly where a slow or failing endpoint would be felt, and identically for all
  three libraries (all three talk to Secrets Manager only through the botocore client).

Secret values are random strings kept in memory to check what a library returned; they are
never printed or written to results.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["REGION", "Call", "CallLog", "Faults", "MotoEndpoint", "Probe"]

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}  # moto's


@dataclass(frozen=True)
class Call:
    """One API call as a library made it: when, which operation, for which secret."""

    started: float  # time.perf_counter()
    operation: str
    secret_id: str | None


@dataclass(frozen=True)
class Outcome:
    """How one API call ended: HTTP status, or 0 when no response came back."""

    ended: float
    operation: str
    status: int


class CallLog:
    """Every API call one client made, in order. Appends are atomic under the GIL."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.outcomes: list[Outcome] = []

    def count(self, since: float = float("-inf"), until: float = float("inf")) -> int:
        """Calls started in ``[since, until)``."""
        return sum(1 for call in self.calls if since <= call.started < until)

    def by_operation(
        self, since: float = float("-inf"), until: float = float("inf")
    ) -> dict[str, int]:
        """Calls started in ``[since, until)``, per operation."""
        return dict(Counter(c.operation for c in self.calls if since <= c.started < until))

    def failures(self, since: float = float("-inf"), until: float = float("inf")) -> int:
        """Calls that ended in ``[since, until)`` without a 2xx response."""
        return sum(
            1 for o in self.outcomes if since <= o.ended < until and not 200 <= o.status < 300
        )

    def first_success(self, since: float) -> float | None:
        """When the first call that ended at or after ``since`` got a 2xx answer."""
        for outcome in self.outcomes:
            if outcome.ended >= since and 200 <= outcome.status < 300:
                return outcome.ended
        return None


class _Raw:
    """The minimal raw-response object botocore reads a synthetic body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


@dataclass
class Faults:
    """What the endpoint does to one client's requests: added latency, and failing or not."""

    latency_seconds: float = 0.0
    failing: bool = False
    failure_code: str = "InternalServiceError"

    def before_send(self, request: Any, **_: Any) -> Any:
        """botocore ``before-send`` handler: a response here replaces the HTTP round trip."""
        if self.latency_seconds > 0:
            time.sleep(self.latency_seconds)
        if not self.failing:
            return None
        from botocore.awsrequest import AWSResponse

        body = json.dumps({"__type": self.failure_code, "Message": "injected outage"})
        headers = {"Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, 500, headers, _Raw(body.encode()))


@dataclass
class Probe:
    """A real botocore client on the endpoint, with its call log and its fault switch."""

    client: Any
    log: CallLog = field(default_factory=CallLog)
    faults: Faults = field(default_factory=Faults)

    def attach(self) -> Probe:
        """Register the counting and fault handlers on this client only."""
        events = self.client.meta.events
        events.register("before-parameter-build.secrets-manager", _remember_secret_id)
        events.register("before-call.secrets-manager", self._on_call)
        events.register("after-call.secrets-manager", self._on_response)
        events.register("after-call-error.secrets-manager", self._on_error)
        events.register("before-send.secrets-manager", self.faults.before_send)
        return self

    def _on_call(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        secret_id = context.get("benchmark_secret_id")
        self.log.calls.append(Call(time.perf_counter(), model.name, secret_id))

    def _on_response(self, http_response: Any, model: Any, **_: Any) -> None:
        outcome = Outcome(time.perf_counter(), model.name, int(http_response.status_code))
        self.log.outcomes.append(outcome)

    def _on_error(self, event_name: str, **_: Any) -> None:
        self.log.outcomes.append(Outcome(time.perf_counter(), event_name.rsplit(".", 1)[-1], 0))


def _remember_secret_id(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context["benchmark_secret_id"] = params.get("SecretId")


class MotoEndpoint:
    """moto's Secrets Manager server in this process, and an uncounted admin client."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        # werkzeug logs one line per request to stderr; the benchmark prints its own tables.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        self.admin = self.client()
        self._lock = threading.Lock()
        self._serial = 0

    def client(self, *, max_pool_connections: int = 128) -> Any:
        """A fresh botocore client: its own event hooks, its own connection pool.

        Retries are off (``total_max_attempts=1``) for every library alike, so what is
        measured is each library's own refresh and retry policy, and one API call is one
        HTTP request.
        """
        import boto3
        from botocore.config import Config

        config = Config(
            retries={"mode": "standard", "total_max_attempts": 1},
            max_pool_connections=max_pool_connections,
            connect_timeout=5,
            read_timeout=10,
        )
        session = boto3.session.Session()
        return session.client(
            "secretsmanager",
            region_name=REGION,
            endpoint_url=self.url,
            config=config,
            **CREDENTIALS,
        )

    def probe(self, *, latency_seconds: float = 0.0) -> Probe:
        """A fresh instrumented client with the given added latency."""
        probe = Probe(self.client(), faults=Faults(latency_seconds=latency_seconds))
        return probe.attach()

    def create_secret(self, prefix: str) -> tuple[str, str]:
        """A new secret with a random value; returns (name, value). The value stays in memory."""
        with self._lock:
            self._serial += 1
            name = f"bench/{prefix}/{self._serial}"
        value = self.new_value()
        self.admin.create_secret(Name=name, SecretString=value)
        return name, value

    @staticmethod
    def new_value() -> str:
        """A random secret value (kept in memory only)."""
        return secrets.token_urlsafe(24)

    def rotate(self, name: str, value: str | None = None) -> str:
        """Put a new AWSCURRENT version (the old one becomes AWSPREVIOUS); returns the value."""
        value = value if value is not None else self.new_value()
        self.admin.put_secret_value(SecretId=name, SecretString=value, VersionStages=["AWSCURRENT"])
        return value

    def stop(self) -> None:
        """Stop the server."""
        self._server.stop()
