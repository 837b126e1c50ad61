"""``Dockerfile`` and ``compose.yaml`` run what ``tests/runtime/test_deployment.py`` proves.

Both files are parsed (the Dockerfile with the official Go parser, through the ``dockerfile``
package; compose with PyYAML) and compared with ``tests/support/deployment.py``, from which the
deployment test builds its command lines and environment: same entry point, same ``serve`` and
``worker`` arguments, same environment names and fixed values, the same start order (one API
process first), every variable a real setting, and no secret baked into either file. The files'
syntax is linted by ``make lint`` (hadolint, and check-jsonschema with the compose-spec schema).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import dockerfile
import pytest
import yaml
from pydantic import SecretStr
from tests.support import deployment as topology

from cordvault.core.settings import Settings

ROOT = Path(__file__).parents[2]
PORT = 8000
DATA_DIR = "/var/lib/cordvault"
SETTING_NAMES = {name.upper() for name in Settings.model_fields}
SECRET_SETTINGS = {
    name.upper()
    for name, field in Settings.model_fields.items()
    if SecretStr in getattr(field.annotation, "__args__", (field.annotation,))
}
# ${NAME}, ${NAME:-default}, ${NAME:?message}: compose's interpolation.
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?([-?])([^}]*))?\}")


def _instructions() -> list[dockerfile.Command]:
    return list(dockerfile.parse_file(str(ROOT / "Dockerfile")))


def _last(cmd: str) -> dockerfile.Command:
    found = [c for c in _instructions() if c.cmd == cmd]
    assert found, f"no {cmd} in the Dockerfile"
    return found[-1]


def _runtime_stage() -> list[dockerfile.Command]:
    commands = _instructions()
    start = max(i for i, c in enumerate(commands) if c.cmd == "FROM")
    return commands[start:]


def _env(commands: list[dockerfile.Command]) -> dict[str, str]:
    env: dict[str, str] = {}
    for c in commands:
        if c.cmd == "ENV":
            env.update(zip(c.value[::2], c.value[1::2], strict=True))
    return env


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def _services(compose: dict[str, Any], first_arg: str) -> dict[str, dict[str, Any]]:
    return {
        name: svc
        for name, svc in compose["services"].items()
        if svc.get("command", [None])[0] == first_arg
    }


def test_dockerfile_runs_the_deployment_commands() -> None:
    """ENTRYPOINT + CMD is the test's `python -m cordvault serve --host H --port P`."""
    entry, cmd = _last("ENTRYPOINT"), _last("CMD")
    assert entry.json, "exec form: no shell between the signal and the process"
    assert cmd.json
    assert list(entry.value) == ["python", *topology.ENTRYPOINT_ARGS]
    assert list(cmd.value) == topology.serve_args("0.0.0.0", PORT)
    env = _env(_runtime_stage())
    # `python` is the venv's: the one the wheel was installed into in the builder stage.
    assert env["PATH"].split(":")[0] == "/opt/venv/bin"
    assert any(c.cmd == "COPY" and "--from=builder" in c.flags for c in _runtime_stage())
    assert env["DATA_DIR"] == DATA_DIR
    assert list(_last("VOLUME").value) == [DATA_DIR]
    assert list(_last("EXPOSE").value) == [str(PORT)]


def test_dockerfile_is_multi_stage_non_root_and_checks_health() -> None:
    stages = [c for c in _instructions() if c.cmd == "FROM"]
    assert [s.value[-1] for s in stages] == ["builder", "runtime"]
    user = _last("USER").value[0]
    assert user.split(":")[0] not in ("0", "root"), user
    assert user.split(":")[0].isdigit(), "numeric, so runAsNonRoot can verify it"
    health = _last("HEALTHCHECK")
    assert health.value[0] == "CMD"
    assert f"http://127.0.0.1:{PORT}/health" in " ".join(health.value)


def test_dockerfile_bakes_in_no_secret_and_only_real_settings() -> None:
    for c in _instructions():
        if c.cmd in ("ENV", "ARG"):
            names = c.value[::2] if c.cmd == "ENV" else [v.split("=")[0] for v in c.value]
            assert not SECRET_SETTINGS & set(names), c.original
    not_settings = ("PATH", "PYTHONUNBUFFERED")
    assert {k for k in _env(_runtime_stage()) if k not in not_settings} <= SETTING_NAMES


def test_compose_runs_the_deployment_processes(compose: dict[str, Any]) -> None:
    """Two API services and two workers with the test's arguments, on the image built here."""
    apis, workers = _services(compose, "serve"), _services(compose, "worker")
    assert tuple(apis) == topology.API_SERVICES
    assert tuple(workers) == topology.WORKER_SERVICES
    for svc in apis.values():
        assert svc["command"] == topology.serve_args("0.0.0.0", PORT)
    for svc in workers.values():
        assert svc["command"] == list(topology.WORKER_ARGS)
    for svc in (*apis.values(), *workers.values()):
        assert svc["build"] == "."  # the Dockerfile beside it: its ENTRYPOINT is the test's
        assert "entrypoint" not in svc
        assert f"cordvault-data:{DATA_DIR}" in svc["volumes"]
        assert "healthcheck" in svc
    assert {"postgres", "redis"} <= set(compose["services"])
    assert all("healthcheck" in svc for svc in compose["services"].values())
    for name in apis:
        host_port = [p for p in apis[name]["ports"] if p.endswith(f":{PORT}")]
        assert host_port
        assert host_port[0].startswith("127.0.0.1:"), "only the proxy on the host reaches it"


def test_compose_starts_the_first_api_process_alone(compose: dict[str, Any]) -> None:
    """Like the test: one API process creates the keys and migrates, then the rest start."""
    services = compose["services"]
    first = services[topology.FIRST_API]["depends_on"]
    assert first == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    for name in (*topology.API_SERVICES[1:], *topology.WORKER_SERVICES):
        assert services[name]["depends_on"] == {
            topology.FIRST_API: {"condition": "service_healthy"}
        }


def _sample(value: str) -> str:
    """``value`` with compose's interpolations replaced: the default, or a sample value."""

    def one(m: re.Match[str]) -> str:
        op, arg = m.group(2), m.group(3)
        if op == "-":
            return arg
        return {"S3_ENDPOINT_URL": "https://s3.example.test"}.get(m.group(1), "sample")

    return INTERPOLATION.sub(one, value)


def test_compose_environment_is_the_deployment_environment(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    apis, workers = _services(compose, "serve"), _services(compose, "worker")
    for svc in (*apis.values(), *workers.values()):
        env: dict[str, str] = svc["environment"]
        assert set(topology.DEPLOYMENT_ENV) <= set(env)
        assert set(env) <= SETTING_NAMES, set(env) - SETTING_NAMES
        for name, value in topology.FIXED_ENV.items():
            assert env[name] == value
        assert env["DATA_DIR"] == DATA_DIR
        assert env["DATABASE_URL"].startswith("postgresql+psycopg://")
        assert "@postgres:5432/" in env["DATABASE_URL"]
        assert env["BROKER_URL"].startswith("redis://redis:6379/")
        for name in SECRET_SETTINGS & set(env):
            assert INTERPOLATION.fullmatch(env[name]), f"{name} must come from the environment"
        assert "://cordvault:${POSTGRES_PASSWORD:?" in env["DATABASE_URL"], "no password literal"
    # The same environment in every process, and it is valid: the settings load from it.
    envs = [svc["environment"] for svc in (*apis.values(), *workers.values())]
    assert all(e == envs[0] for e in envs)
    for key in list(SETTING_NAMES):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(ROOT / "tests")  # no stray .env
    for name, value in envs[0].items():
        monkeypatch.setenv(name, _sample(str(value)))
    settings = Settings()
    assert settings.storage_backend == "local"
    assert settings.blob_store == "s3"
    assert str(settings.data_dir) == DATA_DIR


def test_compose_worker_healthcheck_pings_its_own_node(compose: dict[str, Any]) -> None:
    for svc in _services(compose, "worker").values():
        test = svc["healthcheck"]["test"]
        assert test[0] == "CMD-SHELL"
        words = shlex.split(test[1])
        assert words[:2] == ["celery", "--broker"]
        assert words[3:5] == ["inspect", "ping"]
        assert "celery@$$HOSTNAME" in words
