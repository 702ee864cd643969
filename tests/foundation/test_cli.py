"""The CLI skeleton: help everywhere, init/show round trip, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from maild import __version__
from maild.cli import cli


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found.extend(all_commands(command, (*prefix, name)))
    return found


def test_every_command_and_option_has_help() -> None:
    commands = all_commands(cli)
    assert ("init",) in commands and ("config", "show") in commands
    for path in commands:
        command: click.Command = cli
        for name in path:
            assert isinstance(command, click.Group)
            sub = command.get_command(click.Context(command), name)
            assert sub is not None
            command = sub
        assert command.help and command.help.strip(), f"maild {' '.join(path)} has no help"
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help, f"maild {' '.join(path)} {param.opts[0]} has no help"
        result = CliRunner().invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def init_args(home: Path) -> list[str]:
    return ["--home", str(home), "init", "--no-input", "--name", "Alex Kim",
            "--email", "alex@school.example.edu", "--timezone", "America/Chicago",
            "--role", "third-year medical student", "--institution", "Example SOM",
            "--provider", "other", "--imap-host", "127.0.0.1", "--smtp-host", "127.0.0.1",
            "--password-command", "echo s3cret-value"]


def test_init_non_interactive_then_show_redacts(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, init_args(tmp_path))
    assert result.exit_code == 0, result.output
    text = (tmp_path / "config.toml").read_text()
    assert 'command = "echo s3cret-value"' in text

    shown = runner.invoke(cli, ["--home", str(tmp_path), "config", "show"])
    assert shown.exit_code == 0, shown.output
    assert "s3cret-value" not in shown.output
    assert "redacted" in shown.output
    assert 'timezone = "America/Chicago"' in shown.output

    as_json = runner.invoke(cli, ["--home", str(tmp_path), "config", "show", "--json"])
    data = json.loads(as_json.output)
    assert data["accounts"][0]["password"] == {"command": "echo (arguments redacted)"}
    assert data["accounts"][0]["imap"]["host"] == "127.0.0.1"


def test_init_refuses_to_overwrite_and_reports_missing_flags(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, init_args(tmp_path)).exit_code == 0
    again = runner.invoke(cli, init_args(tmp_path))
    assert again.exit_code == 2
    assert "already exists" in again.output
    missing = runner.invoke(cli, ["--home", str(tmp_path / "x"), "init", "--no-input"])
    assert missing.exit_code == 2
    assert "--name is required" in missing.output


def test_init_rejects_bad_answers_without_writing(tmp_path: Path) -> None:
    args = init_args(tmp_path)
    args[args.index("America/Chicago")] = "Nowhere/Special"
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "identity.timezone" in result.output
    assert not (tmp_path / "config.toml").exists()


def test_config_path_honours_env_and_flag(tmp_path: Path) -> None:
    runner = CliRunner()
    by_env = runner.invoke(cli, ["config", "path"], env={"MAILD_HOME": str(tmp_path / "e")})
    assert by_env.output.strip() == str(tmp_path / "e" / "config.toml")
    by_flag = runner.invoke(cli, ["--home", str(tmp_path / "f"), "config", "path"],
                            env={"MAILD_HOME": str(tmp_path / "e")})
    assert by_flag.output.strip() == str(tmp_path / "f" / "config.toml")


@pytest.mark.parametrize("content", ["[identity\n", "[identity]\nname = 3\n"])
def test_malformed_config_is_one_line_exit_2(tmp_path: Path, content: str) -> None:
    (tmp_path / "config.toml").write_text(content)
    # A real process, so what the user sees (stderr, exit code) is what is checked.
    done = subprocess.run(
        [sys.executable, "-m", "maild", "--home", str(tmp_path), "config", "show"],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("maild: error: ")
    assert "Traceback" not in done.stderr


def test_init_asks_for_the_packet_documents(tmp_path: Path) -> None:
    # Issue 11.3: init never mentioned [attachments]; the packet then had nothing to attach.
    cv = tmp_path / "Alex_Kim_CV.pdf"
    cv.write_bytes(b"%PDF")
    runner = CliRunner()
    home = tmp_path / "home"
    result = runner.invoke(cli, [*init_args(home), "--cv", str(cv)])
    assert result.exit_code == 0, result.output
    config = (home / "config.toml").read_text()
    assert f'[attachments]\ncv = "{cv}"' in config
    missing = runner.invoke(cli, [*init_args(tmp_path / "other"), "--personal-statement",
                                  str(tmp_path / "nope.pdf")])
    assert missing.exit_code == 2
    assert f"--personal-statement: {tmp_path / 'nope.pdf'} is not a file" in missing.output
    assert not (tmp_path / "other" / "config.toml").exists()
