"""analysis.pareto: the non-dominated set, including ties, duplicates and NaN."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.pareto import front_line, pareto_front

# Hand-made example (both objectives minimised):
#   A (1, 5)  front: smallest x
#   A2 (1, 5) duplicate of A: duplicates do not dominate each other → front
#   B (2, 3)  front
#   C (2, 4)  same x as B, worse y → dominated by B
#   D (3, 3)  same y as B, worse x → dominated by B
#   E (4, 1)  front
#   F (4, 1)  duplicate of E → front
#   G (5, 5)  dominated by everything above
#   H (NaN, 0) no latency → never on the front, dominates nothing
HAND = pd.DataFrame(
    {"x": [1, 1, 2, 2, 3, 4, 4, 5, np.nan], "y": [5, 5, 3, 4, 3, 1, 1, 5, 0]},
    index=["A", "A2", *"BCDEFGH"],
)


def test_hand_made_front_with_ties_and_duplicates():
    mask = pareto_front(HAND, "x", "y")
    assert mask[mask].index.tolist() == ["A", "A2", "B", "E", "F"]


def test_mask_is_aligned_with_the_frame_index():
    df = HAND.iloc[::-1]
    mask = pareto_front(df, "x", "y")
    assert mask.index.equals(df.index)
    assert sorted(df[mask].index) == ["A", "A2", "B", "E", "F"]


def test_maximising_the_second_objective():
    # latency (min) vs accuracy (max): p (1, .80) front, q (2, .90) front,
    # r (2, .85) dominated by q, s (3, .90) dominated by q (tie in accuracy, slower).
    df = pd.DataFrame({"lat": [1, 2, 2, 3], "acc": [0.80, 0.90, 0.85, 0.90]},
                      index=list("pqrs"))
    mask = pareto_front(df, "lat", "acc", minimise=(True, False))
    assert mask[mask].index.tolist() == ["p", "q"]


def test_single_point_and_all_identical_points_are_all_on_the_front():
    assert pareto_front(pd.DataFrame({"x": [2.0], "y": [3.0]}), "x", "y").tolist() == [True]
    same = pd.DataFrame({"x": [1.0] * 3, "y": [1.0] * 3})
    assert pareto_front(same, "x", "y").all()


def test_empty_and_all_nan_frames_have_an_empty_front():
    assert pareto_front(pd.DataFrame({"x": [], "y": []}), "x", "y").tolist() == []
    nan = pd.DataFrame({"x": [np.nan, 1.0], "y": [1.0, np.nan]})
    assert not pareto_front(nan, "x", "y").any()


def _brute_force(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    ok = np.isfinite(x) & np.isfinite(y)
    out = np.zeros(len(x), bool)
    for i in np.flatnonzero(ok):
        dominated = ok & (x <= x[i]) & (y <= y[i]) & ((x < x[i]) | (y < y[i]))
        out[i] = not dominated.any()
    return out


@pytest.mark.parametrize("seed", range(30))
def test_agrees_with_the_definition_on_random_grids_full_of_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    x = rng.integers(0, 6, n).astype(float)
    y = rng.integers(0, 6, n).astype(float)
    x[rng.random(n) < 0.05] = np.nan
    df = pd.DataFrame({"x": x, "y": y})
    assert pareto_front(df, "x", "y").to_numpy().tolist() == _brute_force(x, y).tolist()
    # Maximising y is minimising −y.
    flipped = pareto_front(df, "x", "y", minimise=(True, False)).to_numpy()
    assert flipped.tolist() == _brute_force(x, -y).tolist()


def test_front_line_is_sorted_along_x_without_duplicates():
    line = front_line(HAND, "x", "y")
    assert line[["x", "y"]].values.tolist() == [[1, 5], [2, 3], [4, 1]]


def test_unknown_column_is_a_key_error():
    with pytest.raises(KeyError):
        pareto_front(HAND, "x", "energy")
