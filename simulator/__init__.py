"""splitsim: discrete-event simulation of split computing with early exits."""

__version__ = "0.1.0"
