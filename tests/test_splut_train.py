"""Our own SPLUT training (``acutance.lut.splut_train``): the torch network computes what the runtime computes
once its mapping networks are transferred to tables, a run resumes to the same tables as one never stopped,
and bad configs are refused."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from acutance.errors import OptionError  # noqa: E402
from acutance.lut import splut, splut_train  # noqa: E402
from acutance.train.loop import Stopped  # noqa: E402
from tests.conftest import smooth_test_image  # noqa: E402


def _randomised(config):
    torch.manual_seed(0)
    net = splut_train.build_net(config)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.3)  # zero last layers would make every stage the identity: nothing to compare
    return net


@pytest.mark.parametrize("scale, stages", [
    (4, [[["221", 0], ["212", 4]], [["221", 0], ["212", 4]]]),
    (2, [[["212", 0]], [["221", 2], ["212", 0]], [["221", 4]]]),
])
def test_network_equals_its_tables(scale, stages):
    torch.set_num_threads(1)
    config = splut_train.SplutConfig(scale=scale, channels=8, stages=stages, hidden=8)
    net = _randomised(config)
    plane = np.random.default_rng(1).integers(0, 256, (11, 14)).astype(np.uint8)
    plane[:4, :5] = (smooth_test_image(4, 5, seed=2)[:, :, 0] * 255).round()  # some smooth content too
    with torch.no_grad():
        expected = net(torch.from_numpy(plane[None, None].astype(np.float32))).numpy()[0, 0]
    model = splut_train.to_model(net, config, {"name": "t"})
    got = splut.run_channel(model, plane)
    assert got.shape == (11 * scale, 14 * scale)
    # int16 tables: the only difference is their rounding (a few 1e-5 per stage at these weights)
    np.testing.assert_allclose(got, expected, atol=2e-3)
    assert float(np.mean(np.abs(got - expected))) < 2e-4


def _pairs():
    rng = np.random.default_rng(0)
    pairs = []
    for seed in range(3):
        hr = smooth_test_image(32, 32, seed=seed)[:, :, 0] * 255.0
        pairs.append(((hr[::2, ::2] + rng.normal(0, 2, (16, 16))).astype(np.float32), hr.astype(np.float32)))
    return pairs


def test_a_run_resumes_to_the_same_tables(tmp_path):
    config = splut_train.SplutConfig(scale=2, channels=4, stages=[[["221", 0]], [["212", 0]]], hidden=4,
                                     steps=6, batch=2, crop=16, checkpoint_every=2)
    whole = splut_train.train(config, [], log=lambda line: None, run=tmp_path / "a", pairs=_pairs())
    with pytest.raises(Stopped):  # stopped early: no model, the checkpoint stays
        splut_train.train(config, [], log=lambda line: None, run=tmp_path / "b", pairs=_pairs(), stop_after=3)
    resumed = splut_train.train(config, [], log=lambda line: None, run=tmp_path / "b", pairs=_pairs())
    assert whole.meta["steps"] == resumed.meta["steps"] == 6
    for branch in splut.BRANCHES:
        for a, b in zip(whole.tables[branch], resumed.tables[branch]):
            np.testing.assert_array_equal(a, b)
    assert any(np.any(t != 0) for t in whole.tables["msb"][1:]), "training moved no table"
    path = splut.save_atomically(whole, tmp_path / "m.npz")
    assert splut.read(path).meta["name"] == "splut-x2"


@pytest.mark.parametrize("change, message", [
    ({"stages": [[["222", 0]]]}, "kernel"),
    ({"stages": [[["221", 6]]]}, "first channel"),
    ({"stages": []}, "at least one series stage"),
    ({"crop": 30, "scale": 4}, "multiple of the scale"),
    ({"scale": 5}, "scale must be"),
])
def test_bad_configs_are_refused(change, message):
    with pytest.raises(OptionError, match=message):
        splut_train.SplutConfig.load(None, **change)
