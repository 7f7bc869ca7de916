"""analysis.report: one self-contained HTML page per run.

The page must carry its own figures (base64 PNG), the table of sweep points
with CIs, the Pareto set, the scenario, profile provenance and the manifest,
and must load in a browser with nothing from the network.
"""

from __future__ import annotations

import base64
import html
import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import stats as st

from analysis.report import format_ci, write_report

try:
    from test_analysis_load import POLICIES, make_run_dir
except ImportError:  # tests/ collected as a package
    from tests.test_analysis_load import POLICIES, make_run_dir

PROFILES = {"resnet18-cifar10": {"variant": "sparse-75", "macs": "measured: profiles.count",
                                 "latency": "profiles.measure on Intel i7-1185G7",
                                 "exits": "CIFAR-10 test set, 10000 samples"}}


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, str]:
    run_dir = make_run_dir(tmp_path_factory.mktemp("rep") / "run", replications=3, per_run=30,
                           manifest={"profiles": PROFILES, "git_commit": "deadbeef"})
    path = write_report(run_dir)
    return path, path.read_text(encoding="utf-8")


def _section(page: str, anchor: str) -> str:
    start = page.index(f'id="{anchor}"')
    nxt = page.find("<h2", start + 1)
    return page[start: nxt if nxt != -1 else len(page)]


def test_report_is_written_into_the_run_directory(report):
    path, page = report
    assert path.name == "report.html"
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<title>synthetic · splitsim report</title>" in page


def test_figures_are_embedded_png_images_that_decode(report):
    _, page = report
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 8  # the default set for policy × variant with requests and oracle
    for b64 in images:
        img = Image.open(io.BytesIO(base64.b64decode(b64)))
        assert img.format == "PNG" and img.width > 500
    assert page.count("<figcaption>") == 8


def test_nothing_is_loaded_from_outside_the_file(report):
    _, page = report
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)
    assert "url(" not in page and "@import" not in page and "<script" not in page.lower()
    assert "<link" not in page


def test_sweep_point_table_lists_every_point_with_its_interval(report, tmp_path):
    path, page = report
    table = _section(page, "points")
    raw = pd.read_parquet(path.parent / "summary.parquet")
    for policy in POLICIES:
        assert f"<td class=\"key\">{policy}</td>" in table
    sel = raw[(raw["scheduler.policy"] == "oracle") & (raw["model.variant"] == "dense")]
    x = sel["latency_mean_s"]
    hw = st.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    all_means = raw.groupby(["scheduler.policy", "model.variant"])["latency_mean_s"].mean()
    assert html.escape(format_ci(x.mean(), hw, "latency_mean_s", all_means)) in table


def test_format_ci_rounds_to_the_precision_of_the_interval():
    assert format_ci(0.061234, 0.00456, "latency_mean_s", [0.06]) == "61.2 ± 4.6 ms"
    assert format_ci(1.5, 0.25, "device_energy_mean_j", [1.5]) == "1.50 ± 0.25 J"
    assert format_ci(0.9123, 0.0042, "accuracy", [0.9]) == "91.23 ± 0.42 %"
    assert format_ci(2.0, float("nan"), "split_mean", [2.0]) == "2"
    assert format_ci(float("nan"), 0.1, "split_mean", [2.0]) == "–"


def test_pareto_section_lists_exactly_the_non_dominated_points(report):
    path, page = report
    raw = pd.read_parquet(path.parent / "summary.parquet")
    means = raw.groupby(["scheduler.policy", "model.variant"])[
        ["latency_mean_s", "device_energy_mean_j"]].mean()
    x, y = means["latency_mean_s"].to_numpy(), means["device_energy_mean_j"].to_numpy()
    on = [not ((x <= x[i]) & (y <= y[i]) & ((x < x[i]) | (y < y[i]))).any()
          for i in range(len(means))]
    section = _section(page, "pareto")
    energy_part = section.split("<h3>")[1]
    rows = re.findall(r'<tr><td class="key">([^<]+)</td><td class="key">([^<]+)</td>',
                      energy_part)
    assert sorted(rows) == sorted(p for p, flag in zip(means.index, on, strict=True) if flag)


def test_paired_comparisons_against_the_oracle_are_the_regret_section(report):
    _, page = report
    section = _section(page, "regret")
    assert "minus <b>oracle</b>, the hindsight lower bound" in section
    assert section.count("<tr>") == 1 + 2 * 3 * 2  # header + 2 metrics × 3 policies × 2 variants
    assert 'id="paired"' not in page  # the same differences are not shown twice


def test_scenario_profiles_and_manifest_are_shown(report):
    path, page = report
    assert html.escape((path.parent / "scenario.yaml").read_text()) in _section(page, "scenario")
    profiles = _section(page, "profiles")
    assert "resnet18-cifar10" in profiles and "profiles.measure on Intel i7-1185G7" in profiles
    manifest = _section(page, "manifest")
    for text in ("scenario_hash", "abc123", "git_commit", "deadbeef"):
        assert text in manifest


def test_run_without_sweep_or_profiles_still_reports(tmp_path):
    run_dir = make_run_dir(tmp_path / "run", sweep={}, replications=2, requests=False)
    page = write_report(run_dir).read_text()
    assert "no trade-off to show" in page
    assert "records no model profiles" in page
    assert page.count("data:image/png;base64,") == 1  # the latency breakdown


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
def test_page_renders_in_headless_chromium_without_console_errors(report, tmp_path):
    path, _ = report
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars",
         "--window-size=1280,2400", "--enable-logging=stderr", "--v=0",
         f"--screenshot={shot}", path.resolve().as_uri()],
        capture_output=True, text=True, timeout=90, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console
    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.shape[1] == 1280
    # Not blank: a good share of non-white pixels (header, figures, text) and real contrast.
    assert (img < 240).mean() > 0.05
    assert img.std() > 30
    # The dark header band is at the top, as the CSS says.
    assert img[:60].mean() < 120
