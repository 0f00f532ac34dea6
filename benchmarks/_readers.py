"""Steady traffic: reader threads that read one secret at a fixed pace and record every read."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from ._libs import Subject

__all__ = ["Read", "Readers"]


@dataclass(frozen=True)
class Read:
    """One read: when it started (seconds since the run's origin), how long it took, what came.

    ``outcome`` is the label of the value returned (see :class:`Readers`), ``"other"`` for a
    value that is none of the labelled ones, or the raised exception's type name.
    """

    at: float
    seconds: float
    outcome: str


class Readers:
    """``threads`` readers of ``secret_id`` on ``subject``, each pausing ``interval`` between reads.

    ``labels`` maps secret values to labels ("old", "new", ...); add a label *before* the
    value can appear (for example before a rotation) so that no read is misclassified.
    """

    def __init__(
        self,
        subject: Subject,
        secret_id: str,
        *,
        threads: int,
        interval: float,
        origin: float,
        labels: dict[str, str],
    ) -> None:
        self._subject = subject
        self._secret_id = secret_id
        self._interval = interval
        self._origin = origin
        self.labels = labels
        self._stop = threading.Event()
        self._records: list[list[Read]] = [[] for _ in range(threads)]
        self._threads = [
            threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(threads)
        ]

    def start(self) -> Readers:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> list[Read]:
        """Stop and join the readers; every read, ordered by start time."""
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
        return sorted((r for rs in self._records for r in rs), key=lambda r: r.at)

    def seen(self, outcome: str) -> bool:
        """Whether any read so far had ``outcome`` (safe to call while the readers run)."""
        return any(r.outcome == outcome for rs in self._records for r in reversed(rs[-50:]))

    def _loop(self, index: int) -> None:
        records = self._records[index]
        read, text, secret_id = self._subject.read, self._subject.text, self._secret_id
        clock, origin, interval = time.perf_counter, self._origin, self._interval
        while not self._stop.is_set():
            start = clock()
            try:
                value = read(secret_id)
            except Exception as exc:  # noqa: BLE001 - what each library raises is the finding
                outcome = type(exc).__name__
            else:
                outcome = self.labels.get(text(value), "other")
            records.append(Read(start - origin, clock() - start, outcome))
            self._stop.wait(interval)
