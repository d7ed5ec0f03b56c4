"""deploy/compose.yaml, read as Compose would read it (no Docker engine runs here).

The file is parsed with PyYAML (anchors and merge keys resolved, as Compose does) and its
variables interpolated by `interpolate` below, so each test sees what a `docker compose up`
with a given environment would start: which services, in which order, with which commands,
settings and health checks.
"""

import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.db import OperationalError
from django.test import Client

BASE_DIR = Path(settings.BASE_DIR)
COMPOSE_FILE = BASE_DIR / "deploy" / "compose.yaml"
# What an operator must set; every other variable has a default.
REQUIRED_ENV = {"SECRET_KEY": "k" * 50, "POSTGRES_PASSWORD": "s3cret", "ALLOWED_HOSTS": "tickets.example.com"}
APP_SERVICES = ("migrate", "web", "qcluster")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class MissingVariable(ValueError):
    pass


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation, as far as compose.yaml uses it: `$$` is a literal `$`;
    `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}` (unset), `${VAR:?error}`,
    `${VAR?error}`, with defaults and errors themselves interpolated (nesting)."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            end = _closing_brace(text, i + 2)
            out.append(_substitute(text[i + 2 : end], env))
            i = end + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    for index in range(start, len(text)):
        if text.startswith("${", index):
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"unclosed ${{ in {text!r}")


def _substitute(expression: str, env: dict[str, str]) -> str:
    name = NAME.match(expression).group()
    operator_and_word = expression[len(name) :]
    value = env.get(name)
    for operator, when_missing in ((":-", not value), ("-", value is None), (":?", not value), ("?", value is None)):
        if operator_and_word.startswith(operator):
            word = operator_and_word[len(operator) :]
            if not when_missing:
                return value
            if "?" in operator:
                raise MissingVariable(f"{name}: {interpolate(word, env)}")
            return interpolate(word, env)
    assert operator_and_word == "", f"unsupported interpolation ${{{expression}}}"
    return value or ""


def _interpolate_all(node, env):
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_interpolate_all(item, env) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate_all(value, env) for key, value in node.items()}
    return node


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def compose(raw: dict, **env: str) -> dict:
    """The file as `docker compose` sees it with the required variables and `env` set."""
    return _interpolate_all(raw, {**REQUIRED_ENV, **env})


def environment(service: dict) -> dict[str, str]:
    """The variables the container gets: a key with no value is passed through from the
    operator's environment when set there, and left unset otherwise."""
    return {key: value for key, value in service["environment"].items() if value is not None}


def test_the_topology(raw):
    services = compose(raw)["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "qcluster"}
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "pgdata" in raw["volumes"]


def test_several_web_servers_and_qclusters(raw):
    services = compose(raw)["services"]
    assert int(services["web"]["deploy"]["replicas"]) >= 2
    assert int(services["qcluster"]["deploy"]["replicas"]) >= 1
    scaled = compose(raw, WEB_REPLICAS="5", QCLUSTER_REPLICAS="3")["services"]
    assert (scaled["web"]["deploy"]["replicas"], scaled["qcluster"]["deploy"]["replicas"]) == ("5", "3")


def test_migrate_web_and_qcluster_run_one_image_built_from_the_repository(raw):
    services = compose(raw)["services"]
    images = {(services[name]["image"], repr(services[name]["build"])) for name in APP_SERVICES}
    assert len(images) == 1
    build = services["web"]["build"]
    assert (COMPOSE_FILE.parent / build["context"]).resolve() == BASE_DIR.resolve()
    assert (BASE_DIR / build["dockerfile"]).is_file()


def test_only_the_one_off_migrates(raw):
    """The image's entrypoint migrates before any command unless MIGRATE_ON_START=0: the N web
    and M qcluster replicas must not all migrate at once."""
    assert 'ENTRYPOINT ["./docker-entrypoint.sh"]' in (BASE_DIR / "Dockerfile").read_text()
    entrypoint = (BASE_DIR / "docker-entrypoint.sh").read_text()
    assert '"${MIGRATE_ON_START:-1}" = "1"' in entrypoint and 'exec "$@"' in entrypoint
    services = compose(raw)["services"]
    for name in APP_SERVICES:
        assert environment(services[name])["MIGRATE_ON_START"] == "0", name
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    assert services["web"]["command"] == ["gunicorn", "--config", "gunicorn.conf.py"]
    assert services["qcluster"]["command"] == ["python", "manage.py", "qcluster"]


def test_web_and_qcluster_start_after_a_successful_migrate_on_healthy_stores(raw):
    services = compose(raw)["services"]
    for name in ("web", "qcluster"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }, name
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_every_process_gets_the_shared_postgresql_and_redis(raw):
    services = compose(raw)["services"]
    for name in APP_SERVICES:
        env = environment(services[name])
        database = urllib.parse.urlsplit(env["DATABASE_URL"])
        assert (database.scheme, database.hostname, database.password) == ("postgres", "postgres", "s3cret"), name
        assert database.path == "/" + services["postgres"]["environment"]["POSTGRES_DB"]
        assert database.username == services["postgres"]["environment"]["POSTGRES_USER"]
        redis = urllib.parse.urlsplit(env["REDIS_URL"])
        assert (redis.scheme, redis.hostname) == ("redis", "redis"), name


def test_external_stores_replace_the_defaults(raw):
    services = compose(raw, DATABASE_URL="postgres://app@db.internal/tickets", REDIS_URL="redis://cache:6379/2")
    for name in APP_SERVICES:
        env = environment(services["services"][name])
        assert (env["DATABASE_URL"], env["REDIS_URL"]) == ("postgres://app@db.internal/tickets", "redis://cache:6379/2")


@pytest.mark.parametrize("variable", ["SECRET_KEY", "POSTGRES_PASSWORD", "ALLOWED_HOSTS"])
def test_secrets_and_hosts_have_no_default(raw, variable):
    with pytest.raises(MissingVariable, match=variable):
        _interpolate_all(raw, {key: value for key, value in REQUIRED_ENV.items() if key != variable})
    with pytest.raises(MissingVariable, match=variable):
        _interpolate_all(raw, {**REQUIRED_ENV, variable: ""})


def test_every_process_signs_with_the_operators_secret_key(raw):
    services = compose(raw)["services"]
    assert {environment(services[name])["SECRET_KEY"] for name in APP_SERVICES} == {REQUIRED_ENV["SECRET_KEY"]}


def test_every_variable_passed_is_one_the_application_reads(raw):
    """A misspelt name would be passed to the container and silently ignored there."""
    python = "".join((BASE_DIR / path).read_text() for path in ("concert_booking/settings.py", "gunicorn.conf.py"))
    shell = (BASE_DIR / "docker-entrypoint.sh").read_text()
    for name in APP_SERVICES:
        for variable in raw["services"][name]["environment"]:
            read = any(f"{quote}{variable}{quote}" in python for quote in "\"'") or "${" + variable in shell
            assert read, f"{name}: {variable} is read nowhere"


def test_web_sizes_its_own_gunicorn(raw):
    """Inside a container os.cpu_count() is the host's, so gunicorn's default worker count would
    be multiplied by every replica (and so would the PostgreSQL connections)."""
    env = environment(compose(raw)["services"]["web"])
    assert int(env["GUNICORN_WORKERS"]) >= 1 and int(env["GUNICORN_THREADS"]) >= 1


def test_redis_keeps_no_copy_of_the_line(raw):
    """A restart must empty Redis: the line is then rebuilt from PostgreSQL (docs/architecture.md)."""
    redis = compose(raw)["services"]["redis"]
    command = redis["command"]
    assert command[0] == "redis-server"
    assert command[command.index("--save") + 1] == ""
    assert command[command.index("--appendonly") + 1] == "no"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    assert "volumes" not in redis


def test_health_checks(raw):
    services = compose(raw)["services"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "redis-cli ping" in " ".join(services["redis"]["healthcheck"]["test"])
    web_check = " ".join(services["web"]["healthcheck"]["test"])
    assert '/health"' in web_check and "/health/live" not in web_check
    for name in ("postgres", "redis", "web"):
        assert services[name]["healthcheck"]["retries"] >= 1, name


def _web_health_script(raw) -> str:
    test = compose(raw)["services"]["web"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    return test[3]


def _urlopen_through_django(request: urllib.request.Request, timeout: float):
    """urlopen for the health check's request, answered by this project in-process."""
    url = urllib.parse.urlsplit(request.full_url)
    response = Client().get(url.path, headers=dict(request.header_items()))
    if response.status_code != 200:
        raise urllib.error.HTTPError(request.full_url, response.status_code, "not ready", {}, None)
    return response


@pytest.mark.django_db
@pytest.mark.parametrize(
    "allowed_hosts, behind_tls_proxy",
    [
        ("tickets.example.com,www.example.com", False),
        (".example.com", False),
        ("*", False),
        ("tickets.example.com", True),
    ],
)
def test_the_web_health_check_passes_against_the_application(
    raw, settings, monkeypatch, allowed_hosts, behind_tls_proxy
):
    """The check's request (its Host header from ALLOWED_HOSTS; behind a TLS proxy, with
    SECURE_SSL_REDIRECT on) gets /health's 200 from Django, not a 400 or a redirect."""
    settings.ALLOWED_HOSTS = allowed_hosts.split(",")
    if behind_tls_proxy:
        settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
        settings.SECURE_SSL_REDIRECT = True
    monkeypatch.setenv("ALLOWED_HOSTS", allowed_hosts)
    monkeypatch.setattr(urllib.request, "urlopen", _urlopen_through_django)
    exec(compile(_web_health_script(raw), "web healthcheck", "exec"), {})


class _UnreachableDatabase:
    def cursor(self):
        raise OperationalError("connection refused")

    def close(self):
        pass


def test_the_web_health_check_fails_without_the_database(raw, settings, monkeypatch):
    settings.ALLOWED_HOSTS = ["tickets.example.com"]
    monkeypatch.setenv("ALLOWED_HOSTS", "tickets.example.com")
    monkeypatch.setattr(urllib.request, "urlopen", _urlopen_through_django)
    monkeypatch.setattr("apps.common.views.connection", _UnreachableDatabase())
    with pytest.raises(urllib.error.HTTPError, match="503"):
        exec(compile(_web_health_script(raw), "web healthcheck", "exec"), {})
