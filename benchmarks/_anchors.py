"""What the anchor libraries really do, read from their installed source (for report.md)."""

from __future__ import annotations

from ._libs import library_versions

__all__ = ["anchor_notes"]

_AWS = """\
### aws-secretsmanager-caching {aws} (`aws_secretsmanager_caching/`)

- Defaults (`config.py`, `SecretCacheConfig.OPTION_DEFAULTS`): `secret_refresh_interval`
  3600 s, `max_cache_size` 1024, `exception_retry_delay_base` 1 s,
  `exception_retry_growth_factor` 2, `exception_retry_delay_max` 3600 s,
  `default_version_stage` AWSCURRENT. Configuration is `**kwargs` checked against that dict.
- Two API calls per secret, two cache levels (`cache/items.py`): `SecretCacheItem` holds the
  DescribeSecret result and refreshes it at `now + randint(round(ttl / 2), ttl)` seconds
  (line 237: with the default, every 30-60 min, mean 45 min; whole seconds only);
  `SecretCacheVersion` holds one GetSecretValue result per *version id* (an LRU of 10 per
  secret) and never refetches it. A refresh therefore costs one DescribeSecret, plus one
  GetSecretValue when the stage now points at a version id not seen before; the first read of
  a secret costs both.
- Hit path: `SecretCache._get_cached_secret` takes the `LRUCache` RLock and relinks the item;
  `SecretCacheObject.get_secret_value` takes the item's RLock, compares
  `datetime.now(timezone.utc)` with the refresh time, scans `VersionIdsToStages` for the stage,
  takes the version's RLock, compares the clock again, and returns `deepcopy(value)` at both
  levels (line 132): the whole GetSecretValue response (including `ResponseMetadata` and the
  `CreatedDate` datetime) is deep-copied twice per read.
- The lock is held across the network call: `get_secret_value` runs the refresh (DescribeSecret,
  then GetSecretValue) inside `with self._lock` (line 127), so every reader of that secret waits
  for the call. The same lock is what makes a cold stampede cost one fetch.
- Errors: a failed refresh stores the exception and schedules the next attempt at
  `1 s x 2^n` (capped at 3600 s), with no jitter; until then reads are served from the last
  DescribeSecret result and the cached version, with no bound on staleness. The stored
  exception instance is re-raised (`raise self._exception`, line 131) only when no version
  is available. botocore exceptions reach the caller untranslated. Wall-clock time
  (`datetime.now`) drives every decision.
- `refresh_secret_now` sleeps first: `randint(2500, 5001)` ms (`FORCE_REFRESH_JITTER_SLEEP =
  5000`, line 144), or up to `FORCE_REFRESH_MAX_SLEEP = 10000` ms while a retry backoff is
  pending, then refreshes under the lock (line 153). It refreshes the DescribeSecret level only.
"""

_POWERTOOLS = """\
### Powertools for AWS Lambda {powertools} (`aws_lambda_powertools/utilities/parameters/`)

- Default `max_age` (`constants.py` line 10): `DEFAULT_MAX_AGE_SECS = "300"` in this release,
  overridable with `POWERTOOLS_PARAMETERS_MAX_AGE`; an explicit `max_age=` wins. (Earlier
  releases defined it as `"5"`; 300 s is what is installed and measured here.)
- The cache (`base.py`): `BaseProvider.store`, a plain unbounded dict from
  `(name, transform, is_nested)` to `ExpirableValue(value, ttl)` with
  `ttl = datetime.now() + timedelta(seconds=max_age)` (line 215, naive local wall clock).
- Hit path (`BaseProvider.get`): builds the key tuple, calls `os.getenv(...)` on every read
  (line 104, evaluated even when `max_age` is given), compares `datetime.now()` (line 54) and
  returns the stored object itself: no lock, no copy.
- Misses have no coordination: every thread that finds the entry missing or expired calls
  GetSecretValue itself (`SecretsProvider._get`, `SecretId` only, no `VersionStage`).
- Errors: any exception from the call becomes `GetParameterError(str(exc))` (line 113); an
  expired value is never served, and there is no backoff: every read after expiry calls the
  API again while the endpoint fails.
- `SecretsProvider.__init__` registers a user-agent handler on the client it is given.
"""


def anchor_notes() -> str:
    """The notes, with the installed versions filled in."""
    versions = library_versions()
    return "\n".join(
        [
            "## Notes on the anchors (from their installed source)",
            "",
            _AWS.format(aws=versions["aws-secretsmanager-caching"]),
            _POWERTOOLS.format(powertools=versions["aws-lambda-powertools"]),
        ]
    )
