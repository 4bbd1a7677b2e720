"""The training command on tiny configurations (seconds on a CPU)."""

import json

import numpy as np
import pytest

from geocore.cli import main
from geocore.errors import Cancelled, GeocoreError
from geocore.lineaments.dataset import dihedral, generate_arrays
from geocore.lineaments.train import TrainConfig, train_lineament_model
from geocore.magnetics import SurveyConfig
from geocore.models import load_model


def tiny(tmp_path, **kw):
    base = dict(out=tmp_path / "m.safetensors", samples=10, epochs=1, batch_size=4, tile_size=32,
                decoder_channels=[8, 8, 8, 8, 8], lr=1e-3, seed=3)
    base.update(kw)
    return TrainConfig(**base)


def test_training_writes_a_loadable_model_with_its_card(tmp_path):
    lines = []
    path = train_lineament_model(tiny(tmp_path, epochs=2), log=lines.append)
    model, card = load_model(path)
    assert card.tile_size == 32 and card.normalization["window"] == 32
    t = card.training
    assert t["seed"] == 3 and t["optimizer"]["epochs_run"] == 2 and len(t["history"]) == 2
    assert t["command"].startswith("geocore lineaments train") and "--samples 10" in t["command"]
    # the card reports the validation figures of the last epoch run
    assert card.metrics["validation_split"]["val_pixel_accuracy"] == t["history"][-1]["val_pixel_accuracy"]
    assert len(lines) == 2 and "IoU" in lines[0]


def test_resume_continues_from_the_checkpoint(tmp_path):
    train_lineament_model(tiny(tmp_path, epochs=1))
    lines = []
    path = train_lineament_model(tiny(tmp_path, epochs=2, resume=True), log=lines.append)
    assert any("resumed" in s for s in lines)
    _, card = load_model(path)
    assert [h["epoch"] for h in card.training["history"]] == [1, 2]


def test_cancel_writes_no_model(tmp_path):
    calls = {"n": 0}

    def cancel():
        calls["n"] += 1
        return calls["n"] > 3

    with pytest.raises(Cancelled):
        train_lineament_model(tiny(tmp_path, epochs=3), cancel=cancel)
    assert not (tmp_path / "m.safetensors").exists()


def test_the_trainer_learns(tmp_path):
    # the same small set for several epochs: the training loss must fall clearly
    path = train_lineament_model(tiny(tmp_path, samples=12, epochs=6, batch_size=6, loss="bce_dice"))
    _, card = load_model(path)
    hist = card.training["history"]
    assert hist[-1]["train_loss"] < 0.8 * hist[0]["train_loss"]


def test_bad_configurations_are_refused(tmp_path):
    with pytest.raises(GeocoreError, match="multiple of 32"):
        train_lineament_model(tiny(tmp_path, tile_size=50))
    with pytest.raises(GeocoreError, match="at least 2 samples"):
        train_lineament_model(tiny(tmp_path, samples=1))
    (tmp_path / "dir.safetensors").mkdir()
    with pytest.raises(GeocoreError, match="is a folder"):
        train_lineament_model(tiny(tmp_path, out=tmp_path / "dir.safetensors"))
    (tmp_path / "afile").write_text("x")
    with pytest.raises(GeocoreError, match="output folder .* is an existing file"):
        train_lineament_model(tiny(tmp_path, out=tmp_path / "afile" / "m.safetensors"))
    assert not (tmp_path / "afile.ckpt").exists() and (tmp_path / "afile").read_text() == "x"


def test_generated_data_is_cached_and_reproducible(tmp_path):
    kw = dict(seed=1, size=32, cell_size=50.0, config=SurveyConfig.from_preset("realistic"),
              normalization={"mode": "local_zscore", "window": 32, "clip": 3.0})
    x1, y1 = generate_arrays(4, cache_dir=tmp_path, **kw)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    x2, y2 = generate_arrays(4, **kw)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert x1.dtype == np.float16 and 0 <= x1.min() and x1.max() <= 1


def test_sample_cache_is_not_reused_by_other_generator_code(tmp_path, monkeypatch):
    from geocore.lineaments import dataset

    kw = dict(seed=1, size=32, cell_size=50.0, config=SurveyConfig.from_preset("paper"),
              normalization={"mode": "local_zscore", "window": 32, "clip": 3.0}, cache_dir=tmp_path)
    generate_arrays(2, **kw)
    generate_arrays(2, **kw)
    assert len(list(tmp_path.glob("*.npz"))) == 1  # same code, same parameters: the cache is reused
    monkeypatch.setattr(dataset, "generator_digest", lambda: "changed-code")
    generate_arrays(2, **kw)
    assert len(list(tmp_path.glob("*.npz"))) == 2  # the generator changed: a new cache


def test_dihedral_moves_input_and_label_together():
    x = np.arange(16.0).reshape(4, 4)
    y = (x > 10).astype(np.uint8)
    for k in range(8):
        a, b = dihedral(x, y, k)
        assert np.array_equal(b, (a > 10).astype(np.uint8))
    assert len({dihedral(x, y, k)[0].tobytes() for k in range(8)}) == 8


def test_train_command_line(tmp_path, capsys):
    rc = main(["-q", "lineaments", "train", "--out", str(tmp_path / "c.safetensors"), "--samples", "6",
               "--epochs", "1", "--batch-size", "3", "--tile-size", "32", "--decoder-channels", "8", "8", "8", "8", "8"])
    assert rc == 0
    assert (tmp_path / "c.json").is_file()
    card = json.loads((tmp_path / "c.json").read_text())
    assert card["training"]["optimizer"]["batch_size"] == 3
    rc = main(["-q", "lineaments", "train", "--out", str(tmp_path / "d.safetensors"), "--tile-size", "33"])
    assert rc == 2
    assert capsys.readouterr().err.strip().startswith("geocore: error: tile size 33")


def test_training_defaults_and_presets_are_plain_data_the_plugin_can_read():
    """The QGIS dialogs read these before numpy, harmonica or torch are installed."""
    import subprocess
    import sys

    code = ("import sys, geocore.lineaments.params, geocore.magnetics.params; "
            "assert not {'numpy', 'torch', 'harmonica'} & set(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)
    from geocore.lineaments import params as P
    from geocore.lineaments.train import TrainConfig
    from geocore.magnetics.params import PRESET_NAMES

    d = TrainConfig()
    assert (d.samples, d.epochs, d.batch_size, d.lr, d.tile_size, d.seed) == (
        P.DEFAULT_SAMPLES, P.DEFAULT_EPOCHS, P.DEFAULT_BATCH_SIZE, P.DEFAULT_LR, P.DEFAULT_TILE_SIZE, P.DEFAULT_SEED)
    assert SurveyConfig.preset_names() == PRESET_NAMES and d.preset == PRESET_NAMES[0]
    for name in PRESET_NAMES:
        SurveyConfig.from_preset(name)


def test_buried_dykes_are_left_out_of_the_loss(tmp_path):
    """--ignore-buried: the footprints of dykes of visibility below 1 are labelled 2, and whatever the network
    predicts there changes neither loss; elsewhere both losses are the plain ones."""
    import torch

    from geocore.lineaments.train import _loss_fn
    from geocore.magnetics.synthetic import VISIBLE, dyke_visibility, label_mask, synthesize_sample

    cfg = SurveyConfig.from_preset("realistic")
    for i in range(40):  # a realistic sample holding both a visible and a buried dyke
        s = synthesize_sample(np.random.default_rng([5, i]), 96, 96, 50.0, cfg)
        vis = dyke_visibility(s)
        if (vis < VISIBLE).any() and (vis >= VISIBLE).any():
            break
    else:
        pytest.fail("no sample with both a visible and a buried dyke")
    plain, ignoring = label_mask(s), label_mask(s, ignore_buried=True)
    np.testing.assert_array_equal(plain, s.mask)
    assert set(np.unique(ignoring)) <= {0, 1, 2} and (ignoring == 2).any() and (ignoring == 1).any()
    np.testing.assert_array_equal(ignoring > 0, s.mask > 0)  # the same footprints, some set aside

    y = torch.from_numpy(ignoring.astype(np.float32))[None, None]
    logits = torch.randn(1, 1, 96, 96, generator=torch.Generator().manual_seed(0))
    other = logits.clone()
    other[y == 2] = torch.randn(int((y == 2).sum()), generator=torch.Generator().manual_seed(1)) * 10
    for kind in ("bce", "bce_dice"):
        loss = _loss_fn(kind)
        assert float(loss(other, y)) == pytest.approx(float(loss(logits, y)), rel=1e-5)
        # with no ignored cell, the plain losses of the paper (mean BCE, soft Dice)
        t = torch.from_numpy(plain.astype(np.float32))[None, None]
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, t)
        assert float(_loss_fn("bce")(logits, t)) == pytest.approx(float(bce), rel=1e-5)


def test_training_with_buried_dykes_ignored_records_it(tmp_path):
    path = train_lineament_model(tiny(tmp_path, preset="realistic", ignore_buried=True, samples=8))
    _, card = load_model(path)
    assert "--ignore-buried" in card.training["command"]
    xs, ys = generate_arrays(8, seed=3, size=32, cell_size=50.0, config=SurveyConfig.from_preset("realistic"),
                             normalization=card.normalization, ignore_buried=True)
    plain = generate_arrays(8, seed=3, size=32, cell_size=50.0, config=SurveyConfig.from_preset("realistic"),
                            normalization=card.normalization)[1]
    np.testing.assert_array_equal(ys > 0, plain > 0)


def test_a_mixture_of_presets_draws_sample_i_from_preset_i_mod_n(tmp_path):
    norm = {"mode": "local_zscore", "window": 32, "clip": 3.0}
    paper, survey = SurveyConfig.from_preset("paper"), SurveyConfig.from_preset("survey")
    xm, ym = generate_arrays(4, seed=5, size=32, cell_size=50.0, config=[paper, survey], normalization=norm)
    xp, yp = generate_arrays(4, seed=5, size=32, cell_size=50.0, config=paper, normalization=norm)
    xs, ys = generate_arrays(4, seed=5, size=32, cell_size=50.0, config=survey, normalization=norm)
    for i in range(4):  # the same (seed, i) stream, the i-th sample's own preset
        x, y = (xp, yp) if i % 2 == 0 else (xs, ys)
        assert np.array_equal(xm[i], x[i]) and np.array_equal(ym[i], y[i])
    assert not np.array_equal(xp[1], xs[1])  # the two presets make different samples


def test_training_on_a_mixture_records_every_preset(tmp_path):
    path = train_lineament_model(tiny(tmp_path, preset="realistic+survey+paper", samples=7))
    _, card = load_model(path)
    data = card.training["data"]
    assert data["preset"] == "realistic+survey+paper"
    assert [s["preset"] for s in data["survey"]] == ["realistic", "survey", "paper"]
    assert "--preset realistic+survey+paper" in card.training["command"]
    with pytest.raises(GeocoreError, match="unknown preset 'noisy'.*joined by '\\+'"):
        train_lineament_model(tiny(tmp_path, preset="realistic+noisy"))
