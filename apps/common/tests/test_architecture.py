"""Imports between the apps point one way (docs/architecture.md draws the same table).

Each module of an app (tests and migrations aside) is parsed, and every `apps.<other>` it
imports, at the top or inside a function, must be one this table allows. The web pages are a
client like the API: of another app they may use only its services, selectors and errors.
"""

import ast
from pathlib import Path

import pytest

APPS_DIR = Path(__file__).resolve().parents[2]

# app -> the apps it may import (its own modules are always allowed).
ALLOWED = {
    "common": set(),
    "accounts": {"common"},
    "concerts": {"common", "accounts"},
    "queue": {"common", "accounts"},
    "wallet": {"common", "accounts"},
    "reservations": {"common", "accounts", "concerts", "queue"},
    "payments": {"common", "accounts", "reservations", "wallet", "queue"},
    "web": {"common", "accounts", "concerts", "queue", "reservations", "payments", "wallet"},
    "demo": {"common", "accounts", "concerts", "wallet"},
}
# Of another app (common aside), these apps may use only these modules.
CLIENT_APPS = {"web"}
CLIENT_MODULES = {"services", "selectors", "errors"}


def app_modules() -> list[Path]:
    return sorted(
        path
        for path in APPS_DIR.glob("*/**/*.py")
        if not {"tests", "migrations"} & set(path.relative_to(APPS_DIR).parts)
    )


def imported(path: Path) -> list[tuple[int, list[str]]]:
    """(line, dotted path) of each `apps.` import, split into parts after "apps": an
    `from apps.x import y` names y too, which may be a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            module = node.module.split(".")
            if len(module) <= 2:  # from apps(.x) import y: y may be a module (or a name in an __init__)
                found += [(node.lineno, [*module, alias.name]) for alias in node.names]
            else:
                found.append((node.lineno, module))
    return [(line, parts[1:]) for line, parts in found if parts[0] == "apps" and len(parts) > 1]


def violations(path: Path) -> list[str]:
    app = path.relative_to(APPS_DIR).parts[0]
    problems = []
    for line, (other, *rest) in imported(path):
        where = f"{path.relative_to(APPS_DIR.parent)}:{line} imports apps.{'.'.join([other, *rest])}"
        if other == app:
            continue
        if other not in ALLOWED[app]:
            problems.append(f"{where}: {app} may not depend on {other}")
        elif app in CLIENT_APPS and other != "common" and (not rest or rest[0] not in CLIENT_MODULES):
            problems.append(f"{where}: {app} may use only {other}'s {', '.join(sorted(CLIENT_MODULES))}")
    return problems


def test_every_app_is_in_the_table():
    apps_on_disk = {path.parent.name for path in APPS_DIR.glob("*/apps.py")}

    assert apps_on_disk == set(ALLOWED)


def test_the_table_has_no_cycle():
    def reaches(start: str, seen: frozenset = frozenset()) -> set[str]:
        found = set()
        for other in ALLOWED[start] - seen:
            found |= {other} | reaches(other, seen | {start})
        return found

    assert [app for app in ALLOWED if app in reaches(app)] == []


def test_imports_between_apps_point_one_way():
    problems = [problem for path in app_modules() for problem in violations(path)]

    assert problems == []


@pytest.mark.parametrize(
    "app, source, allowed",
    [
        ("concerts", "from apps.wallet.services import wallet_charge", False),
        ("payments", "from apps.wallet.services import wallet_charge", True),
        ("web", "from apps.reservations.selectors import seat_map", True),
        ("web", "from apps.reservations.models import Reservation", False),
        ("web", "from apps.queue import tokens", False),
        ("web", "from apps.queue import selectors", True),
        ("web", "def f():\n    import apps.queue.line", False),
        ("concerts", "from apps import wallet", False),
        ("common", "from apps.accounts.models import User", False),
    ],
)
def test_the_check_tells_an_allowed_import_from_one_that_is_not(tmp_path, monkeypatch, app, source, allowed):
    monkeypatch.setattr(f"{__name__}.APPS_DIR", tmp_path)
    module = tmp_path / app / "module.py"
    module.parent.mkdir()
    module.write_text(source + "\n")

    assert (violations(module) == []) == allowed
