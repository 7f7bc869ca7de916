"""The ``splitsim`` command (DESIGN.md §9 "CLI").

Exit codes: 0 ok, 2 bad input (one message on stderr naming the file, the
field and what is allowed; no traceback unless ``--debug``), 1 anything else.
Input is validated completely before anything is written to ``--out``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from profiles.model import ProfileError
from simulator.api import TasksFailedError
from simulator.engine import SchedulerError
from simulator.montecarlo import ExecutorError
from simulator.precision import PrecisionError
from simulator.scenario import ScenarioError, load_scenario, scenario_json_schema
from simulator.schedulers import REGISTRY, PluginError
from simulator.store import StoreError
from simulator.units import UnitError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Simulate split computing with early exits at the edge.")
out_console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
_state = {"debug": False}

#: Errors that mean the user's input is wrong: exit code 2.
BAD_INPUT: tuple[type[BaseException], ...] = (ScenarioError, ProfileError, PluginError,
                                              SchedulerError, UnitError, StoreError,
                                              ExecutorError, PrecisionError)


class Executor(StrEnum):
    serial = "serial"
    local = "local"
    dask = "dask"


class ListWhat(StrEnum):
    schedulers = "schedulers"
    channels = "channels"
    profiles = "profiles"


@app.callback()
def _options(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False
             ) -> None:
    _state["debug"] = debug


@contextlib.contextmanager
def _reported() -> Iterator[None]:
    """Turn exceptions into one message and the contract's exit code."""
    try:
        yield
    except typer.Exit:
        raise
    except BAD_INPUT as exc:
        _fail(exc, 2)
    except TasksFailedError as exc:  # a plug-in's fault (2) or a dead worker (1)
        _fail(exc, 2 if exc.bad_input else 1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise typer.Exit(130) from None
    except Exception as exc:
        _fail(exc, 1)


def _fail(exc: BaseException, code: int) -> None:
    if _state["debug"]:
        traceback.print_exception(exc, file=sys.stderr)
    label = ("error" if code == 2 or isinstance(exc, TasksFailedError)
             else f"error ({type(exc).__name__})")
    err_console.print(f"{label}: {exc}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out: Annotated[Path, typer.Option("--out", help="Run directory to write.")],
    replications: Annotated[int | None, typer.Option(min=1, help=(
        "Override replications (with --target-ci: the first batch)."))] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Override the scenario seed.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help=(
        "Processes for --executor local, workers of the Dask LocalCluster "
        "(default: all cores)."))] = None,
    executor: Annotated[Executor | None, typer.Option(help=(
        "Where tasks run: serial, local processes (default), or dask (a LocalCluster, "
        "or the scheduler at --address)."))] = None,
    address: Annotated[str | None, typer.Option(help=(
        "A running Dask scheduler, e.g. tcp://10.0.0.5:8786 (implies --executor dask)."))
                       ] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a field: "
                                                   "dotted.key=value (repeatable).")] = None,
    save_requests: Annotated[bool, typer.Option("--save-requests",
                                                help="Also write requests.parquet.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help=(
        "Continue the run in --out: finished tasks are kept, the rest run (also adds "
        "replications to a finished run)."))] = False,
    force: Annotated[bool, typer.Option("--force", help="Discard the run in --out, even of "
                                                        "another scenario.")] = False,
    target_ci: Annotated[list[str] | None, typer.Option("--target-ci", help=(
        "METRIC=REL: add replications until the 95% CI half-width of METRIC is at most "
        "REL × |mean| at every sweep point, e.g. latency_mean_s=0.05 (repeatable)."))
                         ] = None,
    max_replications: Annotated[int | None, typer.Option(min=1, help=(
        "Cap on replications per sweep point with --target-ci (default 1000)."))] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar or table.")] = False,
) -> None:
    """Run every sweep point × replication of SCENARIO and write a run directory."""
    from simulator.api import execute
    from simulator.progress import Bar, Silent
    from simulator.scenario import grid_columns

    with _reported():
        overrides = list(set_ or [])
        if replications is not None:
            overrides.append(f"replications={replications}")
        if seed is not None:
            overrides.append(f"seed={seed}")
        if address is not None and executor not in (None, Executor.dask):
            raise ExecutorError(f"--address needs --executor dask, not {executor.value}")
        kind = (executor or (Executor.dask if address else Executor.local)).value
        loaded = load_scenario(scenario, overrides)
        for warning in loaded.warnings:
            err_console.print(f"warning: {warning}", markup=False)
        show = not quiet and sys.stdout.isatty()
        progress = Bar(out_console) if show else Silent()
        try:
            result = execute(loaded, out, overrides=overrides, executor=kind, workers=workers,
                             address=address, save_requests=save_requests, resume=resume,
                             force=force, target_ci=target_ci,
                             max_replications=max_replications, progress=progress)
        except KeyboardInterrupt:
            err_console.print(f"interrupted; the finished tasks are kept in {out}: continue "
                              f"with the same command and --resume", markup=False,
                              soft_wrap=True)
            raise typer.Exit(130) from None
        manifest = result.manifest
        for warning in manifest.get("warnings", []):
            err_console.print(f"warning: {warning}", markup=False)
        if not quiet:
            from simulator.console import summary_table

            out_console.print(summary_table(result.summary, grid_columns(loaded.base),
                                            f"{loaded.base.name}: mean ± 95% CI"))
            if result.precision is not None:
                from simulator.precision import precision_table

                out_console.print(precision_table(result.precision))
            done = manifest["requests_simulated_now"]
            reused = (f"; {manifest['tasks_resumed']} of {manifest['tasks']} tasks were "
                      f"already done" if manifest["tasks_resumed"] else "")
            fast = sum(p["fast"] for p in manifest["engines"])
            engine = (f"engine {manifest['engine']}" if manifest["engine"] != "mixed" else
                      f"engines: fast path for {fast} of {manifest['tasks']} tasks, SimPy for "
                      f"the others")
            out_console.print(f"{done:,} requests in {manifest['wall_time_s']:.1f} s "
                              f"({manifest['requests_per_s']:,.0f} req/s, {engine}){reused} "
                              f"→ {out}")
        if result.precision is not None and not result.precision["met"]:
            err_console.print(f"warning: --target-ci not met at every sweep point within "
                              f"{result.precision['max_replications']} replications; see "
                              f"'precision' in {out / 'manifest.json'}", markup=False,
                              soft_wrap=True)


@app.command()
def validate(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="dotted.key=value")] = None,
) -> None:
    """Check SCENARIO (and every sweep point) without running it."""
    with _reported():
        loaded = load_scenario(scenario, list(set_ or []))
        for warning in loaded.warnings:
            err_console.print(f"warning: {warning}", markup=False)
        reps = sum(p.scenario.replications for p in loaded.points)
        out_console.print(f"{scenario}: valid — {len(loaded.points)} sweep point(s), "
                          f"{reps} task(s)", markup=False)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the scenario format."""
    with _reported():
        print(json.dumps(scenario_json_schema(), indent=2))


@app.command(name="list")
def list_(what: Annotated[ListWhat, typer.Argument()] = ListWhat.schedulers) -> None:
    """List registered schedulers, channel models or shipped profiles."""
    with _reported():
        if what is ListWhat.schedulers:
            for name, cls in sorted(REGISTRY.items()):
                params = ", ".join(cls.Params.model_fields) or "-"
                doc = (cls.__doc__ or "").strip().splitlines()[0]
                print(f"{name:16} {doc}  [params: {params}]")
        elif what is ListWhat.channels:
            import typing

            from simulator.channel import LinkSpec

            for spec in typing.get_args(typing.get_args(LinkSpec)[0]):
                name = typing.get_args(spec.model_fields["model"].annotation)[0]
                print(f"{name:12} {(spec.__doc__ or '').strip().splitlines()[0]}")
        else:
            from profiles.library import list_profiles

            for name, variants in list_profiles():
                print(f"{name:24} {', '.join(variants)}")


class TraceFormat(StrEnum):
    auto = "auto"
    pensieve = "pensieve"
    mahimahi = "mahimahi"
    csv = "csv"


class FigureFormat(StrEnum):
    png = "png"
    svg = "svg"
    pdf = "pdf"


@app.command()
def trace(
    file: Annotated[Path, typer.Argument(help="Bandwidth trace file.")],
    format_: Annotated[TraceFormat, typer.Option("--format", help="File format.")
                       ] = TraceFormat.auto,
    as_json: Annotated[bool, typer.Option("--json", help="Print the statistics as JSON.")
                       ] = False,
) -> None:
    """Statistics of a bandwidth trace (span, mean, percentiles)."""
    from simulator.traces import TraceError, format_trace_summary, trace_stats

    with _reported():
        try:
            stats = trace_stats(file, format_.value)
        except TraceError as exc:
            raise ScenarioError(str(exc)) from exc
        if as_json:
            print(json.dumps(stats))
        else:
            print(format_trace_summary(stats, name=str(file)))


@app.command()
def plot(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory.")],
    x: Annotated[str | None, typer.Option(help="Swept key or metric on the x axis.")] = None,
    y: Annotated[str | None, typer.Option(help="Metric on the y axis.")] = None,
    hue: Annotated[str | None, typer.Option(help="Swept key to colour by.")] = None,
    format_: Annotated[FigureFormat, typer.Option("--format", help="Figure file format.")
                       ] = FigureFormat.png,
) -> None:
    """Draw the figures that fit RUN_DIR into RUN_DIR/plots/."""
    with _reported():
        from analysis.plots import plot_run

        try:
            paths = plot_run(run_dir, x=x, y=y, hue=hue, fmt=format_.value)
        except ValueError as exc:
            raise ScenarioError(str(exc)) from exc
        for path in paths:
            print(path)


@app.command()
def report(run_dir: Annotated[Path, typer.Argument(help="A finished run directory.")]) -> None:
    """Write RUN_DIR/report.html: figures, tables with CIs, Pareto set, provenance."""
    with _reported():
        from analysis.report import write_report

        try:
            print(write_report(run_dir))
        except ValueError as exc:
            raise ScenarioError(str(exc)) from exc


@app.command()
def profile(
    model: Annotated[str, typer.Argument(help="Zoo name (e.g. resnet18, mlp:800-3-3-10) "
                                              "or module:function.")],
    sparsity: Annotated[float | None, typer.Option(min=0.0, max=0.999, help=(
        "Fraction of weights removed by a predefined mask (0.75 keeps 25%)."))] = None,
    fan_out: Annotated[str | None, typer.Option(help="Fan-out per layer, e.g. 2,9,10.")
                       ] = None,
    dtype: Annotated[str, typer.Option(help="float32, float16 or int8.")] = "float32",
    measure: Annotated[bool, typer.Option("--measure", help="Also time each block on this "
                                                            "CPU.")] = False,
    out: Annotated[Path | None, typer.Option(help="Write the profile JSON here.")] = None,
) -> None:
    """Profile a network (needs torch: pip install 'splitsim[profile]')."""
    with _reported():
        try:
            from profiles.build import dumps_profile, profile_model
        except ImportError as exc:
            raise ProfileError(f"profiling needs torch ({exc}); install it with "
                               f"pip install 'splitsim[profile]'") from exc
        try:
            fans = [int(f) for f in fan_out.split(",")] if fan_out else None
        except ValueError as exc:
            raise ProfileError(f"--fan-out {fan_out!r}: expected whole numbers separated "
                               f"by commas, e.g. 2,9,10") from exc
        result = profile_model(model, sparsity=sparsity, fan_out=fans, dtype=dtype,
                               measure=measure)
        text = dumps_profile(result)
        if out is None:
            sys.stdout.write(text)
        else:
            from simulator.store import write_text

            out.parent.mkdir(parents=True, exist_ok=True)
            write_text(out, text)
            print(out)


def main() -> None:
    """Console-script entry point.

    Puts the working directory first on ``sys.path``, as ``python -m simulator``
    does, so a plug-in policy ``my_policy:Class`` next to where the user runs
    ``splitsim`` is found the same way by both.
    """
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    app()
