"""``python -m simulator`` is the ``splitsim`` command."""

from simulator.cli import main

main()
