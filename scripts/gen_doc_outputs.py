"""Run the documentation's commands and store what they print under docs/snippets/.

Why: the tutorial and the how-to pages show real output, not made-up output.
They include these files (``--8<-- "docs/snippets/NAME.txt"``), so re-running
this script after a change to the simulator refreshes every shown table and
figure at once.  It takes a minute or two (the reference scenario is 120
replications); ``make docs-outputs`` runs it.

Runs go to a temporary directory; the paths in the output are rewritten to the
ones the pages tell the reader to use (``runs/ref`` …).  Tables are printed at
a width of 100 columns so that no column is cut.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNIPPETS = ROOT / "docs" / "snippets"
IMAGES = ROOT / "docs" / "img"
FIGURES = ("tradeoff_latency_energy", "latency_breakdown")


def splitsim(*args: str, path: Path | None = None, shown: dict[str, str] | None = None,
             code: int = 0) -> str:
    """Run ``splitsim ARGS`` from the repository root; stdout+stderr with paths rewritten.

    ``code`` is the exit code the page shows (2 for an input error)."""
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
    env.pop("PYTHONPATH", None)
    if path is not None:
        env["PYTHONPATH"] = str(path)
    done = subprocess.run([sys.executable, "-m", "simulator", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != code:
        raise SystemExit(f"splitsim {' '.join(args)} failed ({done.returncode}):\n"
                         f"{done.stderr}")
    text = done.stdout + done.stderr
    for real, fake in (shown or {}).items():
        text = text.replace(real, fake)
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return text.strip("\n") + "\n"


def write(name: str, text: str) -> None:
    SNIPPETS.mkdir(parents=True, exist_ok=True)
    (SNIPPETS / f"{name}.txt").write_text(text)
    print(f"docs/snippets/{name}.txt")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        ref = tmp / "ref"
        shown = {str(ref): "runs/ref"}
        write("validate_reference", splitsim("validate", "scenarios/reference.yaml"))
        write("run_reference", splitsim("run", "scenarios/reference.yaml", "--out", str(ref),
                                        shown=shown))
        write("plot_reference", splitsim("plot", str(ref), shown=shown))
        write("report_reference", splitsim("report", str(ref), shown=shown))
        IMAGES.mkdir(parents=True, exist_ok=True)
        for name in FIGURES:
            target = IMAGES / f"{name}.png"
            shutil.copyfile(ref / "plots" / f"{name}.png", target)
            target.chmod(0o644)
            print(target.relative_to(ROOT))
        estimators = tmp / "estimators"
        write("run_estimators", splitsim(
            "run", "scenarios/reference.yaml", "--out", str(estimators), "--replications", "5",
            "--set", "model.variant=dense", "--set", "scheduler.policy=dynamic-split",
            "--set", "sweep={scheduler.estimator: [ewma, oracle]}",
            shown={str(estimators): "runs/estimators"}))
        write("list_schedulers", splitsim("list", "schedulers"))
        write("trace_norway", splitsim("trace", "scenarios/traces/norway_bus_3.log"))

        plugin = tmp / "plugin"
        write("plugin_run", splitsim("run", "examples/plugin_scheduler/scenario.yaml",
                                     "--out", str(plugin),
                                     path=ROOT / "examples" / "plugin_scheduler",
                                     shown={str(plugin): "runs/plugin"}))

        write("plugin_missing", splitsim("validate", "examples/plugin_scheduler/scenario.yaml",
                                         code=2))

        network = ROOT / "examples" / "my_network"
        profile = tmp / "tiny_net.json"
        splitsim("profile", "tiny_net:build", "--out", str(profile), path=network)
        tiny = tmp / "tiny"
        write("tiny_run", splitsim("run", "examples/my_network/scenario.yaml", "--out",
                                   str(tiny), "--set", f"model.file={profile}",
                                   shown={str(tiny): "runs/tiny"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
