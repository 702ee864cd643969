"""`maild service`: rendered unit and plist, dry runs, and real systemctl failures."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from maild.cli import cli
from maild.runtime import service

ROOT = Path(__file__).resolve().parents[2]


def files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*")) if directory.exists() else []


@pytest.mark.parametrize("name", service.TEMPLATE_NAMES)
def test_packaged_templates_match_the_repository(name: str) -> None:
    shipped = (ROOT / "maild" / "data" / name).read_text(encoding="utf-8")
    assert shipped == (ROOT / "systemd" / name).read_text(encoding="utf-8")
    assert service.template(name) == shipped


def dry_run(tmp_path: Path, *extra: str, home: bool = True,
            env: dict[str, str | None] | None = None) -> str:
    args = (["--home", str(tmp_path / "home")] if home else []) + [
        "service", "install", "--dry-run", *extra]
    result = CliRunner().invoke(
        cli, args, env={"HOME": str(tmp_path / "user"), "XDG_CONFIG_HOME": None,
                        "MAILD_HOME": None, **(env or {})})
    assert result.exit_code == 0, result.output
    return result.output


def unit_text(output: str) -> str:
    body = output.split("\n", 1)[1]
    return body.split("# would run:", 1)[0]


def test_linux_dry_run_prints_absolute_paths_and_touches_nothing(tmp_path: Path) -> None:
    output = dry_run(tmp_path, "--platform", "linux")
    assert output.startswith(
        f"# would write {tmp_path}/user/.config/systemd/user/maild.service:\n")
    exec_line = next(line for line in output.splitlines() if line.startswith("ExecStart="))
    program = exec_line.removeprefix("ExecStart=").split()[0]
    assert Path(program).is_absolute() and os.access(program, os.X_OK)
    assert exec_line.endswith(" run")
    assert f'Environment="MAILD_HOME={tmp_path}/home"' in output
    assert "systemctl --user daemon-reload\n" in output
    assert "systemctl --user enable maild.service\n" in output
    assert "loginctl enable-linger" in output
    assert files_under(tmp_path) == []


def test_home_is_pinned_only_when_chosen(tmp_path: Path) -> None:
    assert "MAILD_HOME" not in unit_text(dry_run(tmp_path, "--platform", "linux", home=False))
    by_env = dry_run(tmp_path, "--platform", "linux", home=False,
                     env={"MAILD_HOME": str(tmp_path / "e")})
    assert f'Environment="MAILD_HOME={tmp_path}/e"' in by_env


def test_unit_follows_xdg_config_home(tmp_path: Path) -> None:
    output = dry_run(tmp_path, "--platform", "linux",
                     env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert output.startswith(f"# would write {tmp_path}/xdg/systemd/user/maild.service:")


def systemd_verify(unit: str, directory: Path) -> subprocess.CompletedProcess[str]:
    path = directory / "maild.service"
    path.write_text(unit)
    return subprocess.run(["systemd-analyze", "verify", str(path)],
                          capture_output=True, text=True, timeout=60, check=False)


needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")


@needs_systemd_analyze
def test_systemd_analyze_accepts_the_printed_unit(tmp_path: Path) -> None:
    unit = unit_text(dry_run(tmp_path, "--platform", "linux"))
    check = tmp_path / "check"
    check.mkdir()
    done = systemd_verify(unit, check)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr  # warnings (unknown keys) exit 0 but print


@needs_systemd_analyze
def test_odd_paths_are_quoted_for_systemd(tmp_path: Path) -> None:
    # A Python in a directory with a space and a percent sign, and such a home.
    odd = tmp_path / "my 100% venv" / "bin"
    odd.mkdir(parents=True)
    (odd / "python").symlink_to(sys.executable)
    command = service.daemon_command(str(odd / "python"))
    assert command == (str(odd / "python"), "-m", "maild", "run")
    unit = service.render_systemd(command, tmp_path / "home $HOME 50%")
    assert f'ExecStart="{tmp_path}/my 100%% venv/bin/python" -m maild run' in unit
    assert f'Environment="MAILD_HOME={tmp_path}/home $HOME 50%%"' in unit
    done = systemd_verify(unit, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_console_script_is_used_only_when_it_runs_this_python(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    (bin_dir / "python").symlink_to("python3")
    script = bin_dir / "maild"
    script.write_text(f"#!{bin_dir}/python3\nfrom maild.cli import main\nmain()\n")
    script.chmod(0o755)
    assert service.daemon_command(str(bin_dir / "python")) == (str(script), "run")
    script.write_text("#!/usr/bin/python3\nfrom maild.cli import main\nmain()\n")
    assert service.daemon_command(str(bin_dir / "python"))[1:] == ("-m", "maild", "run")


def test_macos_plist_rendered_on_any_platform(tmp_path: Path) -> None:
    home = tmp_path / "a & <b>"
    output = CliRunner().invoke(
        cli, ["--home", str(home), "service", "install", "--dry-run", "--platform", "macos"],
        env={"HOME": str(tmp_path / "user"), "PATH": "/opt/homebrew/bin:/usr/bin:/bin"},
    ).output
    target = tmp_path / "user" / "Library" / "LaunchAgents" / "org.maild.maild.plist"
    assert output.startswith(f"# would write {target}:\n")
    text = output.split("\n", 1)[1].split("# would run:", 1)[0]
    plist = plistlib.loads(text.encode("utf-8"))
    assert plist["Label"] == "org.maild.maild"
    assert plist["RunAtLoad"] is True
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["ThrottleInterval"] >= 10
    assert plist["StandardOutPath"] == f"{home}/logs/maild.out.log"
    assert plist["StandardErrorPath"] == f"{home}/logs/maild.err.log"
    arguments = plist["ProgramArguments"]
    assert Path(arguments[0]).is_absolute() and os.access(arguments[0], os.X_OK)
    assert arguments[-1] == "run"
    assert plist["EnvironmentVariables"] == {
        "MAILD_HOME": str(home), "PATH": "/opt/homebrew/bin:/usr/bin:/bin"}
    uid = os.getuid()
    assert f"launchctl bootstrap gui/{uid} {target}\n" in output
    assert files_under(tmp_path) == []


def test_platform_flag_needs_dry_run(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "service", "install",
                                      "--platform", "macos"])
    assert result.exit_code == 2
    assert "only for --dry-run" in result.output


def run_maild(tmp_path: Path, *args: str, path: str | None = None
              ) -> subprocess.CompletedProcess[str]:
    runtime = tmp_path / "runtime"
    runtime.mkdir(exist_ok=True, mode=0o700)
    env = {k: v for k, v in os.environ.items()
           if k not in ("DBUS_SESSION_BUS_ADDRESS", "XDG_CONFIG_HOME", "MAILD_HOME")}
    # An empty runtime directory: systemctl --user finds no user manager there, so these
    # tests never touch a real session even on a desktop.
    env.update(HOME=str(tmp_path / "user"), XDG_RUNTIME_DIR=str(runtime))
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, "-m", "maild", "--home", str(tmp_path / "home"),
                           "service", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False)


@pytest.mark.skipif(sys.platform != "linux" or shutil.which("systemctl") is None,
                    reason="needs Linux with systemctl")
def test_install_without_a_user_manager_says_so_in_one_line(tmp_path: Path) -> None:
    done = run_maild(tmp_path, "install")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("maild: error: `systemctl --user daemon-reload` failed: "
                               "no systemd user session is reachable here")
    unit = tmp_path / "user" / ".config" / "systemd" / "user" / "maild.service"
    assert str(unit) in lines[0]
    assert "ExecStart=/" in unit.read_text()

    status = run_maild(tmp_path, "status")
    assert status.returncode == 0, status.stderr
    assert f"service file: {unit} (installed)" in status.stdout
    assert "service: unknown (" in status.stdout
    assert f"daemon: not running for {tmp_path}/home" in status.stdout

    removed = run_maild(tmp_path, "uninstall")
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.strip() == f"removed {unit}"
    assert len(removed.stderr.strip().splitlines()) == 1  # one note, not one per command
    assert not unit.exists()


def test_install_without_systemctl_writes_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    done = run_maild(tmp_path, "install", path=str(empty))
    assert done.returncode == 1
    tool = "launchctl" if sys.platform == "darwin" else "systemctl"
    assert done.stderr.startswith(f"maild: error: {tool} was not found")
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "user").exists()
