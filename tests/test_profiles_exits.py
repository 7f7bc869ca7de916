"""Exit traces from a real (seconds-long) training on scikit-learn digits; parametric otherwise."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from profiles import zoo  # noqa: E402
from profiles.build import profile_model  # noqa: E402
from profiles.exits import digits_split, train_and_trace  # noqa: E402
from profiles.library import load_profile  # noqa: E402
from profiles.sparsity import make_masks  # noqa: E402


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    net = zoo.build("digits-mlp")
    return net, train_and_trace(net, epochs=8, samples=300)


def test_digits_split_is_offline_and_stratified():
    split = digits_split(test_size=500)
    assert split.x_train.shape == (1297, 64) and split.x_test.shape == (500, 64)
    assert split.x_train.min() >= 0.0 and split.x_train.max() <= 1.0
    counts = np.bincount(split.y_test)  # 10 classes of 174-183 images, stratified
    assert len(counts) == 10 and counts.min() >= 48 and counts.max() <= 51


def test_trace_has_one_row_per_held_out_sample_and_one_column_per_exit(trained):
    _, t = trained
    assert t.exit_blocks == ("fc1",)
    assert np.array(t.confidence).shape == (300, 2)  # one exit + the final layer
    assert np.array(t.correct).shape == (300, 2)


def test_confidences_are_probabilities_rounded_to_4_decimals(trained):
    conf = np.array(trained[1].confidence)
    assert ((conf >= 0.1 - 1e-9) & (conf <= 1.0)).all()  # max of 10 softmax outputs ≥ 1/10
    assert np.allclose(conf, np.round(conf, 4))


def test_trained_exits_are_far_better_than_chance(trained):
    assert min(trained[1].accuracy) > 0.85  # chance on 10 digits: 0.1


def test_confident_samples_are_more_often_right(trained):
    conf = np.array(trained[1].confidence)[:, 0]
    right = np.array(trained[1].correct)[:, 0].astype(bool)
    assert right[conf > 0.9].mean() > right[conf < 0.6].mean()


def test_exits_are_correlated_across_a_sample(trained):
    conf = np.array(trained[1].confidence)
    assert np.corrcoef(conf[:, 0], conf[:, 1])[0, 1] > 0.3


def test_predefined_sparse_training_keeps_its_masks():
    torch.manual_seed(0)
    net = zoo.build("digits-mlp")
    masks = make_masks(net.blocks, sparsity=0.75)
    result = train_and_trace(net, masks, epochs=8, samples=200)
    w = net.blocks.fc1[0].weight.detach().numpy()
    assert ((w != 0) <= masks["fc1.0"].mask).all()
    assert result.accuracy[-1] > 0.8


def test_shipped_digits_profiles_carry_measured_traces():
    for variant in ("dense", "sparse-50", "sparse-75"):
        prof = load_profile("digits-cnn", variant)
        assert prof.exit_trace is not None
        assert prof.exit_trace.exit_blocks == ("conv1", "conv2")
        assert len(prof.exit_trace.confidence) == 500
        final = np.mean([row[-1] for row in prof.exit_trace.correct])
        assert final > 0.9
        assert prof.final_accuracy == pytest.approx(final, abs=1e-4)
        assert prof.provenance["exits"].startswith("trace:")


def test_models_without_weights_get_parametric_exits_and_say_so():
    prof = profile_model("resnet18-cifar10", exits="auto")
    assert "exit_trace" not in prof
    assert "parametric" in prof["provenance"]["exits"]
    accs = [b["exit"]["model"]["accuracy"] for b in prof["blocks"] if "exit" in b]
    assert len(accs) == 3 and accs == sorted(accs)
    assert accs[0] > 0.1 and accs[-1] < prof["final"]["accuracy"]
