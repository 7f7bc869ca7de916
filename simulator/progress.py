"""Progress of a run: tasks done, requests simulated per second, time left.

Why an interface: ``splitsim run`` shows a rich bar on a terminal, the Python
API and CI runs stay silent, and the run loop (``simulator.api.execute``) must
not care which.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Silent:
    """No output; still counts what was simulated (for the final line and the manifest)."""

    def __init__(self) -> None:
        self.simulated = 0
        self.started = time.perf_counter()

    def start(self, description: str, total: int, done: int) -> None:
        self.started = time.perf_counter()

    def set_total(self, total: int) -> None:
        pass

    def advance(self, simulated: int) -> None:
        self.simulated += simulated

    def stop(self) -> None:
        pass

    @property
    def rate(self) -> float:
        """Requests simulated per second of wall time in this invocation."""
        return self.simulated / max(time.perf_counter() - self.started, 1e-9)


class Bar(Silent):
    """A rich bar: ``name ━━━━━━━╸━━━ 12/40 tasks  18,500 req/s  0:00:41 elapsed  0:01:37 left``."""

    def __init__(self, console: Console | None = None) -> None:
        super().__init__()
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("tasks"), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
            TextColumn("elapsed"), TimeRemainingColumn(), TextColumn("left"),
            console=console or Console(), transient=False)
        self._bar = None

    def start(self, description: str, total: int, done: int) -> None:
        super().start(description, total, done)
        self._progress.start()
        self._bar = self._progress.add_task(description, total=total, completed=done,
                                            rate="")

    def set_total(self, total: int) -> None:
        self._progress.update(self._bar, total=total)

    def advance(self, simulated: int) -> None:
        super().advance(simulated)
        self._progress.update(self._bar, advance=1, rate=f"{self.rate:,.0f} req/s")

    def stop(self) -> None:
        self._progress.stop()
