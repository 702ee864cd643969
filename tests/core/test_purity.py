"""The core is pure: no I/O modules imported, no clock read anywhere."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import maild.core

CORE = Path(maild.core.__file__).parent
MODULES = sorted(CORE.glob("*.py"))
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
