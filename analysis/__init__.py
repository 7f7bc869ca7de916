"""Turn a ``splitsim run`` directory into statistics, figures and a report.

Why a separate package: analysis reads only the files a run writes (DESIGN §7,
§9) and never imports the simulator, so results can be studied on a machine
without the engine's dependencies and the engine never pulls in plotting.

``analysis.load`` is the function below, which shadows the submodule of the
same name as an attribute; import helpers with ``from analysis.load import ...``.
"""

from analysis.load import Run, RunDirError, load

__all__ = ["Run", "RunDirError", "load"]
