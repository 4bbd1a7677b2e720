"""Model files: safetensors + card round trip, refusal of bad files, ImageNet init."""

import json

import numpy as np
import pytest
import torch

from geocore.errors import GeocoreError
from geocore.models import ModelCard, build_model, load_imagenet_encoder, load_model, normalize, save_model


def tiny_card(**kw):
    return ModelCard(tile_size=64, decoder_channels=[16, 16, 16, 16, 16], **kw)


def test_save_load_round_trip(tmp_path):
    card = tiny_card(name="t")
    model = build_model(card).eval()
    path = save_model(model, card, tmp_path / "m.safetensors")
    assert path.with_suffix(".json").is_file()
    loaded, card2 = load_model(path)
    assert card2 == card
    x = torch.randn(1, 1, 64, 64)
    with torch.inference_mode():
        a, b = model(x), loaded(x)
    # stored as float16: equal to half precision
    assert torch.allclose(a, b, atol=5e-2 * float(a.abs().max()) + 1e-3)
    # the card is also embedded: the weights alone are enough
    path.with_suffix(".json").unlink()
    _, card3 = load_model(path)
    assert card3 == card


def test_load_refuses_wrong_and_corrupt_files(tmp_path):
    bad = tmp_path / "pickle.safetensors"
    torch.save({"a": torch.zeros(2)}, bad)  # a pickle, not a safetensors file
    with pytest.raises(GeocoreError, match="not a safetensors"):
        load_model(bad)
    card = tiny_card()
    good = save_model(build_model(card), card, tmp_path / "g.safetensors")
    data = good.read_bytes()
    trunc = tmp_path / "trunc.safetensors"
    trunc.write_bytes(data[: len(data) // 2])
    trunc.with_suffix(".json").write_text(card.to_json())
    with pytest.raises(GeocoreError):
        load_model(trunc)
    with pytest.raises(GeocoreError, match="does not exist"):
        load_model(tmp_path / "missing.safetensors")
    other = tmp_path / "other.safetensors"
    other.write_bytes(data)
    other.with_suffix(".json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(GeocoreError, match="not a geocore model card"):
        load_model(other)


def test_imagenet_encoder_from_a_local_torchvision_file(tmp_path):
    import torchvision

    ref = torchvision.models.vgg16_bn(weights=None)
    weights = tmp_path / "vgg16_bn.pth"
    torch.save(ref.state_dict(), weights)
    card = tiny_card()
    model = build_model(card)
    load_imagenet_encoder(model, weights, encoder="vgg16_bn")
    enc = model.encoder.state_dict()
    ref_sd = ref.state_dict()
    # one grey channel: the RGB kernels are summed
    assert torch.allclose(enc["features.0.weight"], ref_sd["features.0.weight"].sum(1, keepdim=True))
    assert torch.equal(enc["features.10.weight"], ref_sd["features.10.weight"])
    assert torch.equal(enc["features.1.running_mean"], ref_sd["features.1.running_mean"])
    # a grey image through the summed kernel equals RGB = grey through the original
    x = torch.randn(1, 1, 32, 32)
    a = torch.nn.functional.conv2d(x, enc["features.0.weight"], enc["features.0.bias"], padding=1)
    b = torch.nn.functional.conv2d(x.repeat(1, 3, 1, 1), ref_sd["features.0.weight"], ref_sd["features.0.bias"], padding=1)
    assert torch.allclose(a, b, atol=1e-5)


def test_imagenet_weights_of_the_wrong_network_are_refused(tmp_path):
    import torchvision

    plain = tmp_path / "vgg16.pth"
    torch.save(torchvision.models.vgg16(weights=None).state_dict(), plain)
    model = build_model(tiny_card())  # vgg16_bn encoder
    with pytest.raises(GeocoreError, match="do not match"):
        load_imagenet_encoder(model, plain)
    with pytest.raises(GeocoreError, match="does not exist"):
        load_imagenet_encoder(model, tmp_path / "nope.pth")


def test_local_zscore_is_independent_of_tile_borders():
    from geocore.models import halo_cells

    rng = np.random.default_rng(0)
    grid = rng.normal(size=(400, 500)).cumsum(0) * 30 + 1000
    grid[50:70, 80:120] = np.nan
    spec = {"mode": "local_zscore", "window": 96, "clip": 3.0}
    full = normalize(grid, spec)[0]
    h = halo_cells(spec)
    for r0, c0 in [(0, 0), (150, 203), (300, 400)]:
        r1, c1 = min(r0 + 96, 400), min(c0 + 96, 500)
        win = grid[max(r0 - h, 0):r1 + h, max(c0 - h, 0):c1 + h]
        tile = normalize(win, spec)[0]
        tr, tc = r0 - max(r0 - h, 0), c0 - max(c0 - h, 0)
        assert np.allclose(tile[tr:tr + r1 - r0, tc:tc + c1 - c0], full[r0:r1, c0:c1], atol=1e-6)
    assert np.all(full[50:70, 80:120] == 0.5)
    # invariant to units: nT and a 0..1 rescaling give the same input
    assert np.allclose(normalize(grid / 7000 + 0.2, spec), full, atol=1e-5)
