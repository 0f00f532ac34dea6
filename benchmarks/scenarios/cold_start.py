"""7. Cold start: import time and time to the first value, each library, in a fresh interpreter.

Every run is a new ``python -c`` process (cwd = the repository) that times, with
``perf_counter`` from its first statement: the library's import, then building the library
the way a Lambda handler does at module level (its *own* default client: endpoint from
``AWS_ENDPOINT_URL_SECRETS_MANAGER``, region and test credentials from the environment) and
reading one secret from the same moto server. The floor is plain boto3:
``boto3.client("secretsmanager").get_secret_value(...)``. A first discarded round warms the
filesystem and bytecode caches; runs are interleaved. ``-X importtime`` gives the import's
cumulative time as the interpreter itself measures it. No latency is added here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from .._endpoint import REGION
from .._libs import ANCHORS, AWS, LABELS, LIBRARIES, OURS, POWERTOOLS
from .._measure import advantage, median, rotated
from .._model import Context, Headline, ScenarioResult

KEY = "coldstart"
TITLE = "Cold start in a fresh interpreter: import and time to first value (ms)"
BOTO3 = "boto3"
REPO = Path(__file__).resolve().parents[2]

IMPORTS = {
    OURS: "from secretcache import SecretCache",
    AWS: "from aws_secretsmanager_caching import SecretCache",
    POWERTOOLS: "from aws_lambda_powertools.utilities import parameters",
    BOTO3: "import boto3",
}
FIRST_READ = {
    OURS: "SecretCache().get(NAME).text",
    AWS: "SecretCache().get_secret_string(NAME)",
    POWERTOOLS: "parameters.SecretsProvider().get(NAME)",
    BOTO3: 'boto3.client("secretsmanager").get_secret_value(SecretId=NAME)["SecretString"]',
}
TOP_MODULE = {
    OURS: "secretcache",
    AWS: "aws_secretsmanager_caching",
    POWERTOOLS: "aws_lambda_powertools.utilities.parameters",
    BOTO3: "boto3",
}

CHILD = """\
import time
_t0 = time.perf_counter()
{import_line}
_t1 = time.perf_counter()
import json, os, sys
_loaded = {{m: m in sys.modules for m in ("boto3", "botocore")}}
NAME = os.environ["BENCHMARK_SECRET_ID"]
_value = {first_read}
_t2 = time.perf_counter()
print(json.dumps({{"import_ms": (_t1 - _t0) * 1e3, "first_value_ms": (_t2 - _t0) * 1e3,
                  "value_length": len(_value), "loaded_by_import": _loaded}}))
"""


def _environment(ctx: Context, secret_id: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL_SECRETS_MANAGER=ctx.endpoint.url,
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - moto's fixed test credentials
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        BENCHMARK_SECRET_ID=secret_id,
    )
    return env


def _child(subject: str, env: dict[str, str]) -> dict[str, object]:
    code = CHILD.format(import_line=IMPORTS[subject], first_read=FIRST_READ[subject])
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    wall_ms = (time.perf_counter() - start) * 1e3
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        raise RuntimeError(f"cold start of {subject} failed: {last[:200]}")
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    found["process_ms"] = wall_ms
    return found


def _importtime_ms(subject: str, env: dict[str, str]) -> float | None:
    """The interpreter's own cumulative import time of the library's top module."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", IMPORTS[subject]],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    pattern = re.compile(r"import time:\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\S.*)$")
    for line in done.stderr.splitlines():
        match = pattern.match(line)
        if match and match.group(3).strip() == TOP_MODULE[subject]:
            return int(match.group(2)) / 1e3
    return None


def run(ctx: Context) -> ScenarioResult:
    s = ctx.settings
    secret_id, _ = ctx.endpoint.create_secret("coldstart")
    env = _environment(ctx, secret_id)
    # The placeholder lives in benchmarks/, not in an importable secretcache: nothing to time.
    subjects = [k for k in (*LIBRARIES, BOTO3) if not (ctx.placeholder and k == OURS)]
    for subject in subjects:
        _child(subject, env)  # discarded: warms bytecode and page caches
    runs: dict[str, list[dict[str, object]]] = {k: [] for k in subjects}
    for turn in range(s.cold_runs):
        for subject in rotated(subjects, turn):
            runs[subject].append(_child(subject, env))
    importtime = {k: _importtime_ms(k, env) for k in subjects}
    return _result(ctx, runs, importtime)


def _med(runs: list[dict[str, object]], key: str) -> float:
    return median([float(str(r[key])) for r in runs])


def _headline(metric: str, values: dict[str, float]) -> Headline:
    ours = values.get(OURS)
    return Headline(
        metric,
        {k: values.get(k) for k in LIBRARIES},
        advantage={
            a: None if ours is None else advantage(ours, values[a], lower_is_better=True)
            for a in ANCHORS
        },
    )


def _result(
    ctx: Context, runs: dict[str, list[dict[str, object]]], importtime: dict[str, float | None]
) -> ScenarioResult:
    result = ScenarioResult(KEY, TITLE)
    imports = {k: _med(v, "import_ms") for k, v in runs.items()}
    first = {k: _med(v, "first_value_ms") for k, v in runs.items()}
    process = {k: _med(v, "process_ms") for k, v in runs.items()}
    labels = {**LABELS, BOTO3: "plain boto3"}
    result.headline = [_headline("cold start, import ms", imports)]
    result.headline.append(_headline("cold start, ms to first value", first))
    result.columns = [
        "library",
        "import ms",
        "-X importtime ms",
        "first value ms",
        "process wall ms",
        "import loads boto3 / botocore",
    ]
    for key, rs in runs.items():
        loaded = rs[-1]["loaded_by_import"]
        flags = loaded if isinstance(loaded, dict) else {}
        result.rows.append(
            [
                labels[key],
                imports[key],
                importtime[key],
                first[key],
                process[key],
                f"{'yes' if flags.get('boto3') else 'no'} / {'yes' if flags.get('botocore') else 'no'}",
            ]
        )
    result.notes = [
        f"Median of {ctx.settings.cold_runs} fresh interpreters per library (after one "
        f"discarded warm-up each); first value = import + building the default client + one "
        "GetSecretValue (two calls for the AWS library) from the moto server, no added latency.",
    ]
    result.data = {
        "runs": runs,
        "median_import_ms": imports,
        "median_first_value_ms": first,
        "median_process_ms": process,
        "importtime_cumulative_ms": importtime,
    }
    return result
