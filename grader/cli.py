"""Command line of the grader: grade a handin, regenerate expected answers, build runtimes."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from grader import runtime as runtimes
from grader.config import GraderConfig
from grader.errors import InfrastructureError
from grader.grade import grade_handin

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
runtime_app = typer.Typer(no_args_is_help=True, help="Build and inspect sandbox runtimes.")
app.add_typer(runtime_app, name="runtime")


class Format(StrEnum):
    table = "table"
    json = "json"
    autolab = "autolab"


@app.command()
def grade(
    handin: Path = typer.Argument(..., help="the student's handin.tar"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    output_format: Format = typer.Option(Format.table, "--format", help="table, json or autolab"),
    sandbox: str = typer.Option("bwrap", help="bwrap, docker or unsafe-process (development only)"),
    runtime: str = typer.Option("default", help="sandbox runtime (see `runtime list`)"),
    wall_seconds: float = typer.Option(60.0, help="wall-clock limit per problem"),
    secret: str | None = typer.Option(
        None,
        envvar="GRADER_SECRET",
        help="grade on the hidden instances of this secret (the same secret gives the same instances); "
        "default: a new random secret each run",
    ),
    public: bool = typer.Option(
        False, "--public", help="grade on the handout's published instances, as ./grade.sh 1b does"
    ),
    weak: bool = typer.Option(
        False, "--allow-weak-sandbox", help="grade without a cgroup (or with unsafe-process): a demo only"
    ),
) -> None:
    """Grade one handin. Exits 0 whenever a report was produced, whatever the score."""
    import secrets
    from dataclasses import replace

    from grader.sandbox import Limits

    if public and secret is not None:
        raise typer.BadParameter("--public and --secret exclude each other")
    config = GraderConfig(
        sandbox=sandbox,
        runtime=runtime,
        limits=replace(Limits(), wall_seconds=wall_seconds),
        secret=None if public else (secret.encode() if secret is not None else secrets.token_bytes(32)),
        weak=weak,
    )
    try:
        report = grade_handin(handin, config)
    except InfrastructureError as error:
        Console(stderr=True).print(f"[red]grader error:[/red] {error}")
        raise typer.Exit(2) from error
    if as_json or output_format is Format.json:
        print(json.dumps(report.to_dict()))
        return
    console = Console()
    table = Table(title=f"{handin.name}: {report.total:g}/{report.max:g}")
    for column in ("test", "points", "max", "message"):
        table.add_column(column, overflow="fold")
    for test in report.tests:
        table.add_row(
            test.name,
            f"{test.points:g}",
            f"{test.max_points:g}",
            test.message,
            style=None if test.passed else "red",
        )
    if output_format is Format.autolab:
        print(report.log)
        console.print(table)
        print(f"Total score: {report.total:g}/{report.max:g}")
        print(report.autolab_line())
        return
    console.print(table)
    console.print(
        f"runtime: python {report.runtime['python']}, numpy {report.runtime['numpy']}, "
        f"scipy {report.runtime['scipy']}; sandbox {report.sandbox}; {report.duration_s:.1f} s"
    )


@app.command()
def doctor(
    sandbox: str = typer.Option("bwrap", envvar="SANDBOX", help="bwrap, docker or unsafe-process"),
    weak: bool = typer.Option(False, "--allow-weak-sandbox", envvar="ALLOW_WEAK_SANDBOX"),
) -> None:
    """Can this machine grade? Checks the sandbox (and its cgroups) and the runtimes; exits 1 if not."""
    from grader.sandbox import SandboxUnavailable, get_sandbox

    console = Console()
    try:
        found = get_sandbox(sandbox, weak=weak).check()
        console.print(
            f"[green]sandbox[/green]  {found.description}" + ("" if found.full else "  [red](WEAK)[/red]")
        )
        able = True
    except (SandboxUnavailable, ValueError) as error:
        console.print(f"[red]sandbox[/red]  {error}")
        able = False
    for name in runtimes.available():
        try:
            built = runtimes.manifest(name)
            console.print(
                f"[green]runtime[/green]  {name}: python {built['python']}, numpy {built['numpy']}, "
                f"scipy {built['scipy']}"
            )
        except runtimes.RuntimeMissing as error:
            console.print(f"[yellow]runtime[/yellow]  {error}")
    raise typer.Exit(0 if able else 1)


@app.command()
def expected(
    check: bool = typer.Option(False, help="only report whether the shipped files are current"),
) -> None:
    """Regenerate the handout's expected answers from the reference solution."""
    from grader import expected as answers

    computed = answers.compute()
    if check:
        differences = answers.stale(computed)
        for difference in differences:
            print(difference)
        raise typer.Exit(1 if differences else 0)
    for path in answers.write(computed):
        print(f"wrote {path}")


@runtime_app.command("build")
def runtime_build(
    name: str = typer.Argument("default"),
    if_needed: bool = typer.Option(False, "--if-needed", help="skip when already built from the same pins"),
    root: Path = typer.Option(runtimes.RUNTIMES_DIR, help="folder that holds the runtimes"),
    base_python: str | None = typer.Option(
        None, help="interpreter to build on (default: /usr/bin/python3.11)"
    ),
) -> None:
    """Build a sandbox runtime (a pinned venv) from grader/runtime/NAME.txt."""
    if if_needed and runtimes.is_current(name, root):
        print(f"runtime {name} is up to date")
        return
    try:
        manifest = runtimes.build(name, root, base_python)
    except runtimes.RuntimeMissing as error:
        print(error, file=sys.stderr)
        raise typer.Exit(2) from error
    print(
        f"built runtime {name}: python {manifest['python']}, numpy {manifest['numpy']}, "
        f"scipy {manifest['scipy']}"
    )


@runtime_app.command("list")
def runtime_list() -> None:
    """List the runtimes that can be built and whether each is built."""
    for name in runtimes.available():
        state = "built" if runtimes.is_current(name) else "not built"
        print(f"{name}: {state}")
