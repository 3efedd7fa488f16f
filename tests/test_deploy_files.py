"""The deployment files hang together: docker-compose.yml, Dockerfile, .dockerignore, .env.example,
config/gunicorn.conf.py and the /healthz endpoint.

docker-compose.yml is validated against the Compose Specification's JSON schema. The schema file
(tests/data/compose-spec.json) is `compose/config/compose_spec.json` from the `docker-compose`
1.29.2 package on PyPI (Apache-2.0), the only packaged copy reachable here; tests/data/README.md
says how to refresh it. Checks of our own cover what that schema cannot: the commands exist, the
variables are listed and documented, the start order is right.

tests/integration/test_production_stack.py runs the commands read from these files, with the
helpers below, against real PostgreSQL and Redis.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import runpy
import shlex
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
SCHEMA_FILE = REPO / "tests" / "data" / "compose-spec.json"

APP_SERVICES = ("migrate", "web", "worker")
ONE_SHOT_SERVICES = ("migrate", "createbucket")
BACKING_SERVICES = ("postgres", "redis", "minio")


# --- Helpers (also used by the integration tests) --------------------------------------------


def load_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def read_env_file(path: Path = ENV_EXAMPLE, *, include_commented: bool = False) -> dict[str, str]:
    """KEY=VALUE lines of an env file; with include_commented also `# KEY=VALUE` (optional)."""
    pattern = r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$"
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = re.match(pattern, line.strip())
        if match and (include_commented or not match.group(1)):
            values.setdefault(match.group(2), match.group(3))
    return values


_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


def compose_variables(value) -> set[str]:
    """Names interpolated by Compose in a value (`$$NAME` is left to the container's shell)."""
    if isinstance(value, dict):
        return set().union(*(compose_variables(v) for v in value.values()), set())
    if isinstance(value, list):
        return set().union(*(compose_variables(v) for v in value), set())
    if not isinstance(value, str):
        return set()
    return {
        m.group("braced") or m.group("plain")
        for m in _VARIABLE.finditer(value)
        if not m.group("escaped")
    }


def container_shell_variables(value) -> set[str]:
    """Names written `$$NAME` / `$${NAME}`: expanded by the shell inside the container."""
    text = json.dumps(value)
    return set(re.findall(r"\$\$\{?([A-Za-z_][A-Za-z0-9_]*)", text))


def interpolate(value, env: dict[str, str]):
    """Compose's variable interpolation: $$, ${V}, ${V:-d}, ${V-d}, ${V:?e}, ${V?e}, $V."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("plain")
        op, arg = match.group("op"), match.group("arg") or ""
        present = name in env
        empty = not env.get(name)
        if op in (":-", "-"):
            use_default = empty if op == ":-" else not present
            return arg if use_default else env[name]
        if op in (":?", "?"):
            if empty if op == ":?" else not present:
                raise ValueError(f"{name}: {arg}")
            return env[name]
        return env.get(name, "")

    return _VARIABLE.sub(replace, value)


def service_command(service: str, env: dict[str, str]) -> list[str]:
    """A service's command as Compose runs it (interpolated with `env`), as an argument list."""
    command = interpolate(load_compose()["services"][service]["command"], env)
    return shlex.split(command) if isinstance(command, str) else list(command)


def healthcheck_command(service: str, env: dict[str, str]) -> list[str]:
    """The healthcheck test of a service as an argument list (CMD-SHELL run by sh -c)."""
    test = interpolate(load_compose()["services"][service]["healthcheck"]["test"], env)
    kind, *args = test
    return ["sh", "-c", args[0]] if kind == "CMD-SHELL" else args


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def dockerfile_exec_form(keyword: str) -> list[str]:
    """The JSON (exec form) argument list of the last CMD, or of HEALTHCHECK's CMD."""
    args = [a for k, a in dockerfile_instructions() if k == keyword][-1]
    if keyword == "HEALTHCHECK":
        args = args[args.index("CMD ") + len("CMD ") :]
    return json.loads(args)


def dockerfile_collectstatic() -> tuple[dict[str, str], list[str]]:
    """The environment and argument list of the build's `collectstatic` step."""
    run = next(a for k, a in dockerfile_instructions() if k == "RUN" and "collectstatic" in a)
    step = run.split("&&")[0].split()
    env = dict(word.split("=", 1) for word in step if re.match(r"^[A-Z_]+=", word))
    argv = [word for word in step if not re.match(r"^[A-Z_]+=", word)]
    return env, argv


def readme_documented_variables() -> set[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", section, flags=re.MULTILINE))


def management_commands() -> set[str]:
    from django.core.management import get_commands

    return set(get_commands())


# --- docker-compose.yml -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


@pytest.fixture(scope="module")
def schema_validator() -> jsonschema.Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft201909Validator.check_schema(schema)
    return jsonschema.Draft201909Validator(schema)


def schema_errors(validator, document) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_compose_file_follows_the_compose_specification(compose, schema_validator):
    assert schema_errors(schema_validator, compose) == []
    # As Compose sees it after interpolation with the example settings.
    interpolated = interpolate(compose, read_env_file())
    assert schema_errors(schema_validator, interpolated) == []


def test_the_schema_catches_mistakes(schema_validator):
    broken = {
        "services": {
            "web": {
                "image": "x",
                "depends_on": {"db": {"condition": "service_started_eventually"}},
                "healthcheck": {"tests": ["CMD", "true"]},
            }
        }
    }
    errors = schema_errors(schema_validator, broken)
    assert any("depends_on" in error for error in errors)
    assert any("healthcheck" in error for error in errors)


def test_services_and_start_order(compose):
    services = compose["services"]
    assert set(services) == {*APP_SERVICES, *ONE_SHOT_SERVICES, *BACKING_SERVICES}
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"

    def condition(service: str, dependency: str) -> str:
        return services[service]["depends_on"][dependency]["condition"]

    for name in ("web", "worker"):
        assert condition(name, "migrate") == "service_completed_successfully"
        assert condition(name, "createbucket") == "service_completed_successfully"
        assert condition(name, "postgres") == "service_healthy"
        assert condition(name, "redis") == "service_healthy"
    assert condition("migrate", "postgres") == "service_healthy"
    assert condition("createbucket", "minio") == "service_healthy"

    # Whatever is waited for as healthy has a healthcheck; one-shots are never restarted.
    for service in services.values():
        for dependency, spec in service.get("depends_on", {}).items():
            if spec["condition"] == "service_healthy":
                assert services[dependency]["healthcheck"]["test"], dependency
    for name in ONE_SHOT_SERVICES:
        assert services[name]["restart"] == "no", name
    for name in ("web", "worker", *BACKING_SERVICES):
        assert services[name]["restart"] == "unless-stopped", name

    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    assert services["createbucket"]["image"].startswith("minio/mc")


def test_app_services_share_one_image_and_the_env_file(compose):
    services = compose["services"]
    for name in APP_SERVICES:
        assert services[name]["build"] == "."
        assert services[name]["image"] == services["web"]["image"]
        assert services[name]["env_file"] == ".env"
    assert services["createbucket"]["env_file"] == ".env"
    assert services["web"]["command"] == dockerfile_exec_form("CMD")


def test_named_volumes_are_declared_and_data_is_kept(compose):
    declared = set(compose["volumes"])
    used = set()
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume["source"]
            if not source.startswith((".", "/", "$")):
                used.add(source)
    assert used == declared
    mounts = {
        name: [v.split(":")[1] for v in compose["services"][name]["volumes"]]
        for name in BACKING_SERVICES
    }
    assert mounts == {
        "postgres": ["/var/lib/postgresql/data"],
        "redis": ["/data"],
        "minio": ["/data"],
    }


def test_every_compose_command_refers_to_something_that_exists(compose):
    env = read_env_file()
    commands = management_commands()

    migrate = service_command("migrate", env)
    assert migrate[:2] == ["python", "manage.py"] and (REPO / "manage.py").exists()
    assert migrate[2] in commands

    web = service_command("web", env)
    check_gunicorn_command(web)

    worker = service_command("worker", env)
    check_celery_command(worker, "worker")
    web_health = healthcheck_command("web", env)
    assert web_health == ["python", "-m", "config.health"]
    assert callable(importlib.import_module("config.health").main)
    worker_health = shlex.split(healthcheck_command("worker", env)[2])
    check_celery_command(worker_health, "inspect")


def check_gunicorn_command(argv: list[str]) -> None:
    assert argv[0] == "gunicorn"
    config_file = argv[argv.index("-c") + 1]
    assert (REPO / config_file).is_file()
    module_name, _, attribute = argv[-1].partition(":")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, attribute or "application"))


def check_celery_command(argv: list[str], subcommand: str) -> None:
    from celery import Celery
    from celery.app.utils import find_app
    from celery.bin.celery import celery as celery_cli

    assert argv[:3] == ["celery", "-A", "config"]
    assert isinstance(find_app(argv[2]), Celery)
    assert argv[3] == subcommand
    command = celery_cli.commands[subcommand]
    known = {option for param in command.params for option in param.opts + param.secondary_opts}
    for word in argv[4:]:
        if word.startswith("-"):
            assert word.split("=", 1)[0] in known, f"celery {subcommand} has no option {word}"


def test_every_compose_variable_is_in_the_env_example(compose):
    listed = set(read_env_file(include_commented=True))
    used = compose_variables(compose)
    assert {"POSTGRES_PASSWORD", "CELERY_WORKER_CONCURRENCY", "MINIO_ROOT_USER"} <= used
    assert sorted(used - listed) == []
    # $$NAME is expanded inside a container whose environment comes from the .env file.
    in_containers = container_shell_variables(compose) - {"HOSTNAME"}
    assert "AWS_STORAGE_BUCKET_NAME" in in_containers
    assert sorted(in_containers - listed) == []
    # The fallback-less ${NAME:?…} variables must have a value in the example.
    example = read_env_file()
    required = re.findall(r"\$\{([A-Z_]+):\?", COMPOSE_FILE.read_text())
    assert required and all(example.get(name) for name in required)


def test_interpolation_follows_compose_rules():
    env = {"SET": "x", "EMPTY": ""}
    text = "${SET}-${EMPTY:-d}-${EMPTY-d}-${UNSET-d}-$SET-$$SET"
    assert interpolate(text, env) == "x-d--d-x-$SET"
    with pytest.raises(ValueError):
        interpolate("${EMPTY:?needed}", env)
    assert compose_variables("${A:-1} $B $$C $${D}") == {"A", "B"}


# --- .env.example -----------------------------------------------------------------------------


def test_env_example_is_production_and_has_only_placeholders():
    example = read_env_file()
    assert example["DJANGO_DEBUG"] == "0"
    assert example["STORAGE_BACKEND"] == "s3"
    for name in ("DJANGO_SECRET_KEY", "POSTGRES_PASSWORD", "AWS_SECRET_ACCESS_KEY"):
        assert example[name].startswith("change-me"), name
    assert example["MINIO_ROOT_PASSWORD"].startswith("change-me")
    # The database URL carries the same credentials the postgres service is created with.
    assert example["DATABASE_URL"] == (
        f"postgres://{example['POSTGRES_USER']}:{example['POSTGRES_PASSWORD']}"
        f"@postgres:5432/{example['POSTGRES_DB']}"
    )
    for name in ("CELERY_BROKER_URL", "REDIS_URL"):
        assert example[name].startswith("redis://redis:6379/")
    assert example["CELERY_BROKER_URL"] != example["REDIS_URL"]
    assert example["AWS_S3_ENDPOINT_URL"] == "http://minio:9000"
    # gunicorn parses WEB_CONCURRENCY itself on import: never set it to an empty value.
    assert "WEB_CONCURRENCY" not in example


def test_env_example_lists_the_production_settings():
    listed = set(read_env_file(include_commented=True))
    expected = {
        "DJANGO_DEBUG",
        "DJANGO_SECRET_KEY",
        "DJANGO_ALLOWED_HOSTS",
        "DJANGO_CSRF_TRUSTED_ORIGINS",
        "DATABASE_URL",
        "REDIS_URL",
        "CELERY_BROKER_URL",
        "STORAGE_BACKEND",
        "AWS_STORAGE_BUCKET_NAME",
        "AWS_S3_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "STYLEFINDER_WIDGET_ORIGINS",
        "WEB_CONCURRENCY",
    }
    assert sorted(expected - listed) == []


def test_every_env_example_variable_is_documented_in_the_readme():
    missing = sorted(set(read_env_file(include_commented=True)) - readme_documented_variables())
    assert not missing, f"add these to README.md's configuration table: {missing}"


# --- Dockerfile and .dockerignore -------------------------------------------------------------


def test_dockerfile_builds_a_non_root_image_with_cache_friendly_layers():
    instructions = dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]
    assert instructions[0] == ("FROM", "python:3.11-slim")

    def index(keyword: str, contains: str) -> int:
        return next(i for i, (k, a) in enumerate(instructions) if k == keyword and contains in a)

    copy_requirements = index("COPY", "requirements.txt")
    pip_install = index("RUN", "pip install -r requirements.txt")
    copy_all = index("COPY", ". .")
    collectstatic = index("RUN", "collectstatic")
    user = index("USER", "")
    assert copy_requirements < pip_install < copy_all < collectstatic < user
    assert instructions[user][1] not in ("root", "0")
    assert keywords.index("CMD") > user and keywords.index("HEALTHCHECK") > user
    for keyword, args in instructions:
        if keyword == "COPY" and args != ". .":
            assert (REPO / args.split()[0]).exists(), args


def test_dockerfile_collectstatic_step_is_production_mode():
    env, argv = dockerfile_collectstatic()
    assert env["DJANGO_DEBUG"] == "0" and env["DJANGO_SECRET_KEY"]
    assert argv == ["python", "manage.py", "collectstatic", "--noinput"]
    assert "collectstatic" in management_commands()


def test_dockerfile_cmd_and_healthcheck_refer_to_existing_files():
    cmd = dockerfile_exec_form("CMD")
    assert cmd == ["gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]
    check_gunicorn_command(cmd)
    health = dockerfile_exec_form("HEALTHCHECK")
    assert health == ["python", "-m", "config.health"]
    assert (REPO / "config" / "health.py").is_file()


def test_dockerignore_keeps_secrets_and_local_state_out_but_not_the_code():
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for required in (".git", ".venv", ".env", "media/", "staticfiles/", "db.sqlite3"):
        assert required in patterns, required
    needed = ["manage.py", "requirements.txt", "config", "photos", "recommender", "gallery"]
    needed += ["templates", "static"]
    for path in needed:
        assert (REPO / path).exists()
        assert path not in patterns and f"{path}/" not in patterns, path


# --- config/gunicorn.conf.py ------------------------------------------------------------------


def gunicorn_settings(monkeypatch, **env: str) -> dict:
    for name in (
        "PORT",
        "GUNICORN_BIND",
        "WEB_CONCURRENCY",
        "GUNICORN_THREADS",
        "GUNICORN_PRELOAD",
        "GUNICORN_ACCESS_LOG",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(REPO / "config" / "gunicorn.conf.py"))


def test_gunicorn_defaults(monkeypatch):
    conf = gunicorn_settings(monkeypatch)
    assert conf["bind"] == ["0.0.0.0:8000"]
    cpus = conf["available_cpus"]()
    assert conf["workers"] == min(2 * cpus + 1, 8)
    assert conf["threads"] == 2 and conf["worker_class"] == "gthread"
    assert conf["preload_app"] is False
    assert conf["accesslog"] == "-" and conf["errorlog"] == "-"
    assert conf["timeout"] > conf["graceful_timeout"] > 0
    assert conf["control_socket_disable"] is True
    if os.path.isdir("/dev/shm"):
        assert conf["worker_tmp_dir"] == "/dev/shm"


def test_gunicorn_reads_its_environment(monkeypatch):
    conf = gunicorn_settings(
        monkeypatch,
        PORT="9100",
        WEB_CONCURRENCY="3",
        GUNICORN_THREADS="1",
        GUNICORN_PRELOAD="1",
        GUNICORN_ACCESS_LOG="",
    )
    assert conf["bind"] == ["0.0.0.0:9100"]
    assert conf["workers"] == 3
    assert conf["worker_class"] == "sync"
    assert conf["preload_app"] is True
    assert conf["accesslog"] is None
    conf = gunicorn_settings(monkeypatch, PORT="9100", GUNICORN_BIND="127.0.0.1:9200,[::1]:9200")
    assert conf["bind"] == ["127.0.0.1:9200", "[::1]:9200"]


def test_gunicorn_accepts_every_setting_it_is_given(monkeypatch):
    from gunicorn.config import Config

    conf = gunicorn_settings(monkeypatch)
    known = set(Config().settings)
    helpers = {"env_int", "env_bool", "available_cpus", "MAX_DEFAULT_WORKERS", "math", "os"}
    names = {name for name in conf if not name.startswith("_")} - helpers - {"annotations"}
    assert sorted(names - known) == []


# --- /healthz ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_answers_ok_when_database_and_cache_work(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "cache": "ok"}
    assert "no-cache" in response["Cache-Control"]
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_healthz_says_which_part_failed(client, monkeypatch):
    from django.core.cache import cache

    def down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(cache, "set", down)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "cache": "error: ConnectionError"}


def test_healthz_says_when_the_database_is_down(client, monkeypatch):
    # No django_db mark: any database access fails, as when PostgreSQL is unreachable.
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"].startswith("error: ")
    assert response.json()["cache"] == "ok"


def test_a_cache_that_swallows_errors_still_fails_the_check(monkeypatch):
    from django.core.cache import cache

    from config import health

    monkeypatch.setattr(cache, "get", lambda *args, **kwargs: None)
    with pytest.raises(ConnectionError):
        health.check_cache()


def test_the_healthcheck_client_finds_the_local_server(monkeypatch):
    from config import health

    for name in ("GUNICORN_BIND", "PORT", "DJANGO_ALLOWED_HOSTS"):
        monkeypatch.delenv(name, raising=False)
    assert health.local_address() == ("127.0.0.1", 8000)
    monkeypatch.setenv("PORT", "9000")
    assert health.local_address() == ("127.0.0.1", 9000)
    monkeypatch.setenv("GUNICORN_BIND", "[::]:9100,unix:/tmp/x.sock")
    assert health.local_address() == ("127.0.0.1", 9100)
    monkeypatch.setenv("GUNICORN_BIND", "10.0.0.5:9200")
    assert health.local_address() == ("10.0.0.5", 9200)
    assert health.allowed_host_name() == "localhost"
    monkeypatch.setenv("DJANGO_ALLOWED_HOSTS", "*, .example.com,photos.example.com")
    assert health.allowed_host_name() == "example.com"


def test_the_healthcheck_client_fails_when_nothing_listens(monkeypatch, capsys):
    import socket

    from config import health

    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("GUNICORN_BIND", f"127.0.0.1:{port}")
    assert health.main() == 1
    assert "unreachable" in capsys.readouterr().err
