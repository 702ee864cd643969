"""Installing maild as a background service: a systemd user unit or a launchd agent.

This module owns turning the shipped templates (``maild/data/``, identical to the
repository's ``systemd/`` directory) into the file for *this* installation: absolute
paths to this Python or its ``maild`` script, MAILD_HOME when the user chose one, log
paths for launchd. It also owns the plan of commands that enable, start, stop and query
the service, and running them with one clear line when the service manager is missing
or unreachable (a container, an ``su`` shell without a user bus).

Rendering and planning are pure; only ``run_command``, ``carry_out`` and ``query_status``
touch the system, so ``--dry-run`` and tests see exactly what would happen.
"""

from __future__ import annotations

import logging
import os
import plistlib
import pwd
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape

from maild import paths
from maild.errors import MaildError

log = logging.getLogger(__name__)

Platform = Literal["linux", "macos"]
PLATFORMS: tuple[Platform, ...] = ("linux", "macos")
UNIT_NAME = "maild.service"
LAUNCHD_LABEL = "org.maild.maild"
PLIST_NAME = f"{LAUNCHD_LABEL}.plist"
TEMPLATE_NAMES = (UNIT_NAME, PLIST_NAME)
COMMAND_TIMEOUT = 30.0
LINGER_DIR = Path("/var/lib/systemd/linger")

_SYSTEMD_PLAIN = re.compile(r"^[A-Za-z0-9/._+,:@=-]+$")
# Messages systemctl prints when there is no user manager to talk to.
_NO_BUS = ("failed to connect to bus", "failed to connect to user scope bus",
           "no medium found", "dbus_session_bus_address", "xdg_runtime_dir")


class ServiceError(MaildError):
    """The service manager is missing, unreachable, or refused a command."""


def current_platform(system: str | None = None) -> Platform:
    name = sys.platform if system is None else system
    if name == "darwin":
        return "macos"
    if name.startswith("linux"):
        return "linux"
    raise ServiceError(
        f"maild can install itself as a service only with systemd (Linux) or launchd "
        f"(macOS), not on {name}; run `maild run` under your own process supervisor"
    )


def template(name: str) -> str:
    """The text of a shipped template (``maild.service`` or the launchd plist)."""
    if name not in TEMPLATE_NAMES:
        raise ValueError(f"unknown service template {name!r}")
    return resources.files("maild").joinpath("data", name).read_text(encoding="utf-8")


def daemon_command(executable: str | None = None) -> tuple[str, ...]:
    """The absolute argv that starts this installation's daemon.

    The ``maild`` console script next to the interpreter is preferred (it reads better in
    ``ps`` and the journal), but only when its shebang names this very interpreter: a
    ``maild`` left over from another install must not be the one started. Otherwise
    ``python -m maild`` always runs the code this process was imported from. The path is
    made absolute but not resolved: resolving a venv's python symlink would escape the
    venv and lose its packages.
    """
    exe = executable if executable is not None else sys.executable
    if not exe:
        raise ServiceError("cannot tell which Python runs maild (sys.executable is empty)")
    python = Path(exe).absolute()
    script = python.parent / "maild"
    if _script_runs_with(script, python):
        return (str(script), "run")
    return (str(python), "-m", "maild", "run")


def _script_runs_with(script: Path, python: Path) -> bool:
    """Whether ``script`` is an executable whose shebang is ``python`` (or its alias).

    A venv's python, python3 and python3.11 are symlinks to one another, so the shebang
    may name another of them; it must live in the same directory though, since every
    venv's python resolves to the same base interpreter.
    """
    try:
        with script.open("rb") as handle:
            first = handle.readline(4096).decode("utf-8", "replace").strip()
        if not first.startswith("#!") or not os.access(script, os.X_OK):
            return False
        interpreter = Path(first[2:].strip())
        return interpreter.parent == python.parent and interpreter.samefile(python)
    except OSError:
        return False


def _systemd_word(word: str) -> str:
    # ExecStart= expands %specifiers and $VARIABLES and splits on spaces; escape all of
    # them so that a path with a space or a percent sign arrives unchanged.
    escaped = word.replace("%", "%%").replace("$", "$$")
    if _SYSTEMD_PLAIN.match(escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _systemd_assignment(value: str) -> str:
    # Environment= expands %specifiers (not $VARIABLES) and takes C escapes in quotes.
    return '"' + value.replace("%", "%%").replace("\\", "\\\\").replace('"', '\\"') + '"'


_SYSTEMD_HEADER = """\
# maild as a systemd user service, written by `maild service install`.
# Reinstalling overwrites this file and `maild service uninstall` removes it.
# Logs: journalctl --user -u maild
"""


def render_systemd(command: Sequence[str], home: Path | None) -> str:
    """The user unit for ``command``; ``home`` pins MAILD_HOME when the user chose one."""
    text = template(UNIT_NAME)
    # The template's own header explains installing it by hand; replace it.
    lines = text.splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    exec_line = "ExecStart=" + " ".join(_systemd_word(w) for w in command) + "\n"
    if home is not None:
        exec_line += f"Environment={_systemd_assignment(f'{paths.HOME_ENV}={home}')}\n"
    body, count = re.subn(r"(?m)^ExecStart=.*\n", lambda _: exec_line, "".join(lines))
    if count != 1:
        raise ServiceError(f"the shipped {UNIT_NAME} template has {count} ExecStart= lines")
    return _SYSTEMD_HEADER + body


def _xml_string(value: str) -> str:
    return f"<string>{escape(value)}</string>"


def _keep_key(element: str, match: re.Match[str]) -> str:
    return match.group(1) + element


def render_launchd(command: Sequence[str], home: Path | None, log_dir: Path,
                   search_path: str | None = None) -> str:
    """The LaunchAgent plist; ``home`` as for render_systemd, logs under ``log_dir``.

    ``search_path`` becomes the agent's PATH: launchd starts agents with only
    /usr/bin:/bin:/usr/sbin:/sbin, where a password command such as ``pass`` or ``op``
    from Homebrew would not be found.
    """
    text = template(PLIST_NAME)
    indent = " " * 8
    args = "".join(f"{indent}{_xml_string(word)}\n" for word in command)
    text, n_args = re.subn(
        r"(<key>ProgramArguments</key>\s*<array>\n).*?(\s*</array>)",
        lambda m: m.group(1) + args.rstrip("\n") + m.group(2), text, count=1, flags=re.S)
    replacements = {"StandardOutPath": log_dir / "maild.out.log",
                    "StandardErrorPath": log_dir / "maild.err.log"}
    found = n_args
    for key, value in replacements.items():
        element = _xml_string(str(value))
        # A plain replacement string would treat backslashes in a path as escapes.
        text, n = re.subn(rf"(<key>{key}</key>\s*)<string>[^<]*</string>",
                          partial(_keep_key, element), text, count=1)
        found += n
    if found != 3:
        raise ServiceError(f"the shipped {PLIST_NAME} template lacks ProgramArguments "
                           "or the log paths")
    variables = {}
    if home is not None:
        variables[paths.HOME_ENV] = str(home)
    if search_path:
        variables["PATH"] = search_path
    if variables:
        entries = "".join(f"{indent}<key>{escape(k)}</key>\n{indent}{_xml_string(v)}\n"
                          for k, v in variables.items())
        block = (f"    <key>EnvironmentVariables</key>\n    <dict>\n{entries}    </dict>\n")
        text = text.replace("</dict>\n</plist>", block + "</dict>\n</plist>", 1)
    # Fail here, not in launchd: the result must be a plist (a home with odd characters
    # is escaped above, this guards against template edits).
    try:
        plistlib.loads(text.encode("utf-8"))
    except Exception as exc:  # plistlib raises ExpatError, ValueError, InvalidFileException
        raise ServiceError(f"the rendered {PLIST_NAME} is not a valid plist: {exc}") from None
    return text


@dataclass(frozen=True)
class Step:
    """One command of a plan; ``may_fail`` for clean-ups of something possibly absent."""

    argv: tuple[str, ...]
    may_fail: bool = False

    def display(self) -> str:
        return shlex.join(self.argv)


@dataclass(frozen=True)
class Plan:
    """What install or uninstall does: a file to write or remove, commands, advice."""

    platform: Platform
    path: Path
    text: str | None  # None: the file is removed
    steps: tuple[Step, ...]
    advice: tuple[str, ...] = ()
    # Removed along with ``path``: the enablement symlink `systemctl disable` would remove
    # had it been able to reach the user manager.
    leftovers: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Installation:
    """Everything about this machine and this maild that the service files depend on."""

    platform: Platform
    command: tuple[str, ...]
    home: Path  # the MAILD_HOME the daemon will use (its logs live there for launchd)
    pin_home: bool  # write MAILD_HOME into the file (the user chose --home / MAILD_HOME)
    user_home: Path
    config_home: Path  # $XDG_CONFIG_HOME or ~/.config; systemd looks there for user units
    uid: int
    user: str
    search_path: str

    @classmethod
    def detect(cls, home: Path, pin_home: bool, env: Mapping[str, str],
               platform: Platform | None = None, executable: str | None = None) -> Installation:
        uid = os.getuid()
        try:
            entry: pwd.struct_passwd | None = pwd.getpwuid(uid)
        except KeyError:  # a uid without a passwd entry, e.g. in some containers
            entry = None
        user_home = Path(env.get("HOME") or (entry.pw_dir if entry else "~")).expanduser()
        xdg = env.get("XDG_CONFIG_HOME", "")
        # The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
        config_home = Path(xdg) if xdg.startswith("/") else user_home / ".config"
        return cls(
            platform=platform or current_platform(),
            command=daemon_command(executable),
            home=home.absolute(),
            pin_home=pin_home,
            user_home=user_home.absolute(),
            config_home=config_home,
            uid=uid,
            user=env.get("USER") or (entry.pw_name if entry else str(uid)),
            search_path=env.get("PATH", os.defpath),
        )

    @property
    def path(self) -> Path:
        if self.platform == "macos":
            return self.user_home / "Library" / "LaunchAgents" / PLIST_NAME
        return self.config_home / "systemd" / "user" / UNIT_NAME

    @property
    def log_dir(self) -> Path:
        return paths.log_dir(self.home)

    @property
    def launchd_domain(self) -> str:
        return f"gui/{self.uid}"

    @property
    def launchd_target(self) -> str:
        return f"{self.launchd_domain}/{LAUNCHD_LABEL}"

    def render(self) -> str:
        pinned = self.home if self.pin_home else None
        if self.platform == "macos":
            return render_launchd(self.command, pinned, self.log_dir, self.search_path)
        return render_systemd(self.command, pinned)

    def lingering(self) -> bool:
        return (LINGER_DIR / self.user).exists()

    def install_plan(self) -> Plan:
        steps: tuple[Step, ...]
        if self.platform == "macos":
            steps = (
                # bootstrap refuses a label that is already loaded (a reinstall).
                Step(("launchctl", "bootout", self.launchd_target), may_fail=True),
                Step(("launchctl", "bootstrap", self.launchd_domain, str(self.path))),
            )
            advice = (f"logs: {self.log_dir / 'maild.err.log'}",)
            return Plan("macos", self.path, self.render(), steps, advice)
        steps = (
            Step(("systemctl", "--user", "daemon-reload")),
            # enable + restart rather than `enable --now`: after a reinstall (a new
            # ExecStart) the running daemon must be replaced, not left as it was.
            Step(("systemctl", "--user", "enable", UNIT_NAME)),
            Step(("systemctl", "--user", "restart", UNIT_NAME)),
        )
        notes = ["logs: journalctl --user -u maild"]
        if not self.lingering():
            notes.append(f"to keep maild running while you are logged out: "
                         f"loginctl enable-linger {self.user}")
        return Plan("linux", self.path, self.render(), steps, tuple(notes))

    def uninstall_plan(self) -> Plan:
        if self.platform == "macos":
            steps = (Step(("launchctl", "bootout", self.launchd_target), may_fail=True),)
            return Plan("macos", self.path, None, steps)
        wants = self.config_home / "systemd" / "user" / "default.target.wants" / UNIT_NAME
        return Plan("linux", self.path, None, (
            Step(("systemctl", "--user", "disable", "--now", UNIT_NAME), may_fail=True),
            Step(("systemctl", "--user", "daemon-reload"), may_fail=True),
        ), leftovers=(wants,))


Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


def _no_manager(tool: str) -> ServiceError:
    if tool == "systemctl":
        return ServiceError("systemctl was not found: this system does not run systemd; "
                            "start `maild run` with your own process supervisor instead")
    return ServiceError(f"{tool} was not found; `maild service` needs launchd (macOS)")


def run_command(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run a service-manager command, capturing its output; a missing tool is an error."""
    log.debug("running %s", " ".join(argv))
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, check=False,
                              timeout=COMMAND_TIMEOUT, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise _no_manager(argv[0]) from None
    except subprocess.TimeoutExpired:
        raise ServiceError(f"`{' '.join(argv)}` did not finish in {COMMAND_TIMEOUT:.0f}s") \
            from None


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _reason(done: subprocess.CompletedProcess[str]) -> str:
    return _first_line(done.stderr) or _first_line(done.stdout) or f"exit code {done.returncode}"


def _is_unreachable(step: Step, done: subprocess.CompletedProcess[str]) -> bool:
    reason = _reason(done).lower()
    return step.argv[:2] == ("systemctl", "--user") and any(m in reason for m in _NO_BUS)


def explain_failure(step: Step, done: subprocess.CompletedProcess[str]) -> str:
    """One line saying which command failed, why, and what to do about it."""
    reason = _reason(done)
    shown = step.display()
    if _is_unreachable(step, done):
        return (f"`{shown}` failed: no systemd user session is reachable here ({reason}); "
                "this happens in containers and in su/sudo shells: log in as this user "
                "(ssh, or `machinectl shell USER@`) and try again, or start `maild run` "
                "under another supervisor")
    return f"`{shown}` failed: {reason}"


def _require_tool(platform: Platform) -> None:
    tool = "launchctl" if platform == "macos" else "systemctl"
    if shutil.which(tool) is None:
        raise _no_manager(tool)


def carry_out(plan: Plan, runner: Runner = run_command,
              log_dir: Path | None = None) -> tuple[str, ...]:
    """Write or remove the file and run the plan's commands, stopping at a failure.

    Returns one line per tolerated failure (e.g. stopping a service that was not loaded).
    """
    warnings: list[str] = []
    _require_tool(plan.platform)
    if plan.text is not None:
        try:
            plan.path.parent.mkdir(parents=True, exist_ok=True)
            if log_dir is not None:
                # launchd opens the log files but does not create their directory.
                log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            plan.path.write_text(plan.text, encoding="utf-8")
        except OSError as exc:
            raise ServiceError(f"cannot write {plan.path}: {exc.strerror}") from None
    unreachable = False
    for index, step in enumerate(plan.steps):
        if not unreachable:
            done = runner(step.argv)
            if done.returncode != 0 and not step.may_fail:
                message = explain_failure(step, done)
                if plan.text is not None:
                    message += f" (the file {plan.path} was written)"
                raise ServiceError(message)
            if done.returncode != 0:
                warnings.append(explain_failure(step, done))
                # Without a user manager every later command fails the same way; one
                # explanation is enough.
                unreachable = _is_unreachable(step, done)
        # Removing the unit comes after it was stopped, before the reload that forgets it.
        if plan.text is None and index == 0:
            _remove(plan.path, *plan.leftovers)
    if plan.text is None and not plan.steps:
        _remove(plan.path, *plan.leftovers)
    return tuple(warnings)


def _remove(*targets: Path) -> None:
    for path in targets:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise ServiceError(f"cannot remove {path}: {exc.strerror}") from None


@dataclass(frozen=True)
class ServiceStatus:
    installed: bool
    path: Path
    state: str  # "active", "inactive", "failed", "running", "not loaded", "unknown", ...
    detail: str = ""  # why the state is unknown, or the pid launchd reports

    @property
    def running(self) -> bool:
        return self.state in ("active", "running", "reloading")


def query_status(inst: Installation, runner: Runner = run_command) -> ServiceStatus:
    """Whether the service file is installed and what the service manager says of it."""
    installed = inst.path.exists()
    tool = "launchctl" if inst.platform == "macos" else "systemctl"
    if shutil.which(tool) is None:
        return ServiceStatus(installed, inst.path, "unknown", f"{tool} is not available here")
    if inst.platform == "macos":
        step = Step(("launchctl", "print", inst.launchd_target))
        done = runner(step.argv)
        if done.returncode != 0:
            return ServiceStatus(installed, inst.path, "not loaded")
        found = re.search(r"^\s*state = (.+)$", done.stdout, re.M)
        pid = re.search(r"^\s*pid = (\d+)$", done.stdout, re.M)
        return ServiceStatus(installed, inst.path, found.group(1).strip() if found else "loaded",
                             f"pid {pid.group(1)}" if pid else "")
    step = Step(("systemctl", "--user", "is-active", UNIT_NAME))
    done = runner(step.argv)
    state = _first_line(done.stdout)
    if state:
        return ServiceStatus(installed, inst.path, state)
    return ServiceStatus(installed, inst.path, "unknown", explain_failure(step, done))
