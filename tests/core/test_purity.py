"""The layers stay as drawn (docs/architecture.md): the core and the reading of mail are
pure, only the store speaks SQL, only the CLI speaks click, and a draft changes status
only in the lifecycle module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import maild.core

CORE = Path(maild.core.__file__).parent
MAILD = CORE.parent
MODULES = sorted(CORE.glob("*.py"))
EVERY_MODULE = sorted(MAILD.rglob("*.py"))
# Modules allowed an exception to a layer rule, with the reason; none today.
NOT_YET_MOVED: set[str] = set()
FORBIDDEN = {"sqlite3", "socket", "os", "pathlib", "subprocess", "imapclient", "aiosmtplib",
             "smtplib", "imaplib", "asyncio", "shutil", "io", "tempfile", "keyring",
             "apscheduler", "requests", "urllib", "http", "time", "random", "logging.handlers"}


def imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_modules_import_nothing_that_does_io() -> None:
    assert len(MODULES) >= 10
    for path in MODULES:
        bad = {n for n in imported_names(path) if n.split(".")[0] in FORBIDDEN}
        local = {n for n in imported_names(path) if n.startswith("maild.")}
        assert not bad, f"{path.name} imports {bad}"
        assert all(n.startswith("maild.core") or n == "maild.errors" for n in local), path


def test_core_never_reads_the_clock() -> None:
    clock = {"now", "utcnow", "today", "fromtimestamp", "utcfromtimestamp"}
    clock_module = {"time", "monotonic", "perf_counter", "time_ns", "localtime", "gmtime"}
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                where = f"{path.name}:{node.lineno} reads the clock"
                assert node.func.attr not in clock, where
                receiver = node.func.value
                if isinstance(receiver, ast.Name) and receiver.id == "time":
                    assert node.func.attr not in clock_module, where
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in {"open", "print", "input"}, f"{path.name}:{node.lineno}"


def test_importing_the_core_loads_no_io_module() -> None:
    code = (
        "import sys; before = set(sys.modules)\n"
        "import maild.core.engine, maild.core.candidates, maild.core.contacts\n"
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=CORE.parent.parent).stdout.split()
    loaded = {m.split(".")[0] for m in out}
    assert not loaded & {"sqlite3", "socket", "subprocess", "imapclient", "aiosmtplib",
                         "smtplib", "imaplib", "asyncio", "apscheduler", "keyring"}


def _where(path: Path) -> str:
    return path.relative_to(MAILD).as_posix()


def _calls(path: Path) -> list[tuple[int, str]]:
    """(line, name) of every call, by the called attribute's or function's name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else \
                func.id if isinstance(func, ast.Name) else ""
            found.append((node.lineno, name))
    return found


def test_only_the_store_speaks_sql() -> None:
    sql = {"execute", "executemany", "executescript"}
    outside = [f"{_where(p)}:{line}" for p in EVERY_MODULE
               if not _where(p).startswith("store/") and _where(p) not in NOT_YET_MOVED
               for line, name in _calls(p) if name in sql]
    assert outside == [], f"SQL outside maild/store/: {outside}"


def test_the_connection_is_the_stores_own() -> None:
    outside = []
    for path in EVERY_MODULE:
        where = _where(path)
        if where.startswith("store/") or where in NOT_YET_MOVED:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in {"db", "_db"}:
                outside.append(f"{where}:{node.lineno}")
        if "sqlite3" in imported_names(path):
            outside.append(f"{where}: imports sqlite3")
    assert outside == [], f"the store's connection used outside maild/store/: {outside}"


def test_only_the_cli_imports_click() -> None:
    outside = [_where(p) for p in EVERY_MODULE if not _where(p).startswith("cli/")
               and any(n.split(".")[0] == "click" for n in imported_names(p))]
    assert outside == []


def test_reading_mail_does_no_io() -> None:
    understand = sorted((MAILD / "understand").glob("*.py"))
    assert len(understand) >= 5
    for path in understand:
        bad = {n for n in imported_names(path) if n.split(".")[0] in FORBIDDEN}
        assert not bad, f"{path.name} imports {bad}"
        local = {n for n in imported_names(path) if n.startswith("maild.")}
        assert all(n.startswith(("maild.understand", "maild.core")) or n == "maild.errors"
                   for n in local), f"{path.name} imports {local}"


def test_a_draft_changes_status_only_in_the_lifecycle() -> None:
    allowed = {"app/lifecycle.py", *NOT_YET_MOVED}
    outside = [f"{_where(p)}:{line} {name}" for p in EVERY_MODULE
               if not _where(p).startswith("store/") and _where(p) not in allowed
               for line, name in _calls(p) if name in {"set_status", "set_step_status"}]
    assert outside == [], f"status changes outside app/lifecycle.py: {outside}"
