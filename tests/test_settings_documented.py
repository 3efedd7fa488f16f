"""Every environment variable the project reads is documented in README.md's configuration table."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# env_str("NAME"...), env_bool(...), env_int(...), env_list(...), os.environ.get("NAME"...),
# os.environ["NAME"], os.getenv("NAME")
READ = re.compile(
    r"""(?:env_(?:str|bool|int|list)\(|os\.environ\.get\(|os\.getenv\(|os\.environ\[)\s*["']([A-Z][A-Z0-9_]+)["']"""
)
SOURCES = ["config/settings.py", "config/gunicorn.conf.py", "config/celery.py"]


def documented_variables() -> set[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", section, flags=re.MULTILINE))


def variables_read() -> set[str]:
    names: set[str] = set()
    for source in SOURCES:
        path = REPO / source
        if path.exists():
            names.update(READ.findall(path.read_text()))
    return names


def test_the_pattern_finds_the_settings_variables():
    names = variables_read()
    assert {"DJANGO_DEBUG", "DATABASE_URL", "STORAGE_BACKEND", "CELERY_BROKER_URL"} <= names


def test_every_variable_read_is_in_the_readme_table():
    missing = sorted(variables_read() - documented_variables())
    assert not missing, f"add these to README.md's configuration table: {missing}"
