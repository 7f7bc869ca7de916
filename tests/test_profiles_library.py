"""The shipped library: every zoo model × variants, loadable with torch blocked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from profiles.library import LIBRARY_DIR, list_profiles, load_profile
from profiles.model import ProfileError, profile_from_dict, profile_to_dict

ZOO = ["alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "efficientnet_b0",
       "resnet18-cifar10", "digits-cnn", "digits-mlp"]
ROOT = Path(__file__).resolve().parents[1]


def test_every_zoo_model_ships_dense_and_two_sparsity_levels():
    shipped = dict(list_profiles())
    for name in ZOO:
        assert shipped[name][:3] == ["dense", "sparse-50", "sparse-75"], name
    assert shipped["mlp-800-40-40-10"] == ["dense", "fanout-2-9-10"]


def test_reference_scenario_profile_exists():
    # DESIGN.md §8: model: {profile: resnet18-cifar10, variant: sparse-75}
    prof = load_profile("resnet18-cifar10", "sparse-75")
    assert prof.name == "resnet18-cifar10" and prof.variant == "sparse-75"
    assert prof.depth == 10 and prof.input_bytes == 3 * 32 * 32 * 4


def test_loading_profiles_never_imports_torch():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from profiles.library import list_profiles, load_profile\n"
        "n = 0\n"
        "for name, variants in list_profiles():\n"
        "    for v in variants:\n"
        "        load_profile(name, v); n += 1\n"
        "assert not any(m == 'torch' or m.startswith('torch.') for m in sys.modules\n"
        "               if sys.modules[m] is not None)\n"
        "print(n)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert int(out.stdout) == sum(len(v) for _, v in list_profiles())


def test_unknown_name_lists_the_available_profiles():
    with pytest.raises(ProfileError, match=r"unknown profile 'resnet99'.*resnet18-cifar10"):
        load_profile("resnet99")


def test_unknown_variant_lists_the_variants():
    with pytest.raises(ProfileError, match="sparse-75"):
        load_profile("vgg16", "sparse-90")


def test_mlp_names_with_a_colon_resolve():
    assert load_profile("mlp:800-3-3-10").totals["params"] == 2455


@pytest.mark.parametrize("path", sorted(LIBRARY_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_library_file_round_trips_and_is_consistent(path):
    raw = json.loads(path.read_text())
    prof = profile_from_dict(raw, source=path.name)
    assert profile_from_dict(profile_to_dict(prof)) == prof
    assert path.stat().st_size < 64 * 1024
    t = raw["totals"]
    for key in ("macs", "nonzero_macs", "params", "nonzero_params", "weight_bytes"):
        assert t[key] == sum(b[key] for b in raw["blocks"]), key
    assert t["flops"] == 2 * t["macs"]
    assert t["nonzero_macs"] <= t["macs"] and t["nonzero_params"] <= t["params"]
    if prof.exit_trace is not None:
        assert len(prof.exit_trace.confidence) <= 500
    for key in ("counts", "cuts", "exits", "energy", "latency"):
        assert raw["provenance"][key]


def test_vgg16_at_75_percent_sparsity_split_after_block_7():
    # the user story: after conv3_3 (+pool) the cut carries 256x28x28 fp32 values
    prof = load_profile("vgg16", "sparse-75")
    block7 = prof.blocks[6]
    assert block7.name == "conv3_3"
    assert block7.output_bytes == 256 * 28 * 28 * 4
    assert block7.nonzero_macs == pytest.approx(0.25 * block7.macs)


def test_library_matches_what_the_code_produces():
    pytest.importorskip("torch")
    from profiles.build import profile_model

    for name, variant, kw in [("resnet18", "dense", {}),
                              ("mobilenet_v2", "sparse-75", {"sparsity": 0.75})]:
        shipped = json.loads((LIBRARY_DIR / f"{name}__{variant}.json").read_text())
        fresh = json.loads(json.dumps(profile_model(name, **kw)))
        assert fresh == shipped, f"{name} {variant}: run python -m profiles.build_library"
