"""Service-time variability: unit-mean random multipliers of a nominal time.

Why multipliers: the nominal service time of a request is its work divided by
a speed (FLOP / FLOP/s), and depends on the split the scheduler picks.  The
randomness should not: drawing one unit-mean multiplier per request when it
arrives keeps the random numbers identical whatever the policy decides
(common random numbers), and makes ``exponential`` give exactly M/M/c service
for the queueing-theory checks.

Scenario forms: ``deterministic``, ``exponential``, or
``{dist: gamma|lognormal, cv: 0.5}``.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator


class Variability(BaseModel):
    """A unit-mean distribution for service-time multipliers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dist: Literal["deterministic", "exponential", "gamma", "lognormal"] = "deterministic"
    cv: float = Field(default=0.0, ge=0.0, allow_inf_nan=False,
                      description="Coefficient of variation (std / mean); gamma and lognormal.")

    @model_validator(mode="after")
    def _cv_matches_dist(self) -> Variability:
        if self.dist in ("gamma", "lognormal") and self.cv <= 0:
            raise ValueError(f"'{self.dist}' needs a coefficient of variation cv > 0 "
                             f"(e.g. {{dist: {self.dist}, cv: 0.5}})")
        if self.dist in ("deterministic", "exponential") and self.cv not in (0.0,):
            raise ValueError(f"'{self.dist}' takes no cv; use gamma or lognormal for a given cv")
        return self

    @property
    def squared_cv(self) -> float:
        """SCV of the multiplier, the input to Pollaczek–Khinchine-type formulas."""
        return {"deterministic": 0.0, "exponential": 1.0}.get(self.dist, self.cv**2)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent unit-mean multipliers."""
        if self.dist == "deterministic":
            return np.ones(n)
        if self.dist == "exponential":
            return rng.exponential(1.0, n)
        if self.dist == "gamma":
            shape = 1.0 / self.cv**2
            return rng.gamma(shape, 1.0 / shape, n)
        sigma2 = math.log1p(self.cv**2)
        return rng.lognormal(-sigma2 / 2.0, math.sqrt(sigma2), n)


def _coerce(value: object) -> object:
    """Accept the bare-string forms ``deterministic`` / ``exponential``."""
    if isinstance(value, str):
        return {"dist": value}
    return value


def shorthand_schema(model: type[BaseModel], names: tuple[str, ...]) -> WithJsonSchema:
    """JSON Schema of a model that may also be written as one of ``names`` (a string)."""
    return WithJsonSchema({"anyOf": [{"type": "string", "enum": list(names)},
                                     model.model_json_schema()]})


VariabilitySpec = Annotated[Variability, BeforeValidator(_coerce),
                            shorthand_schema(Variability, ("deterministic", "exponential"))]
