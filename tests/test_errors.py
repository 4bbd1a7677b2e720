"""The exception hierarchy and how each front end names a parameter."""

from __future__ import annotations

import pytest

from geocore.cli import build_parser, main, option_names
from geocore.errors import Cancelled, GeocoreError, InputError, OutputError, ParameterError, cli_option


def test_hierarchy_and_placeholders():
    for cls in (InputError, ParameterError, OutputError, Cancelled):
        assert issubclass(cls, GeocoreError)
    err = ParameterError("no samples left; raise {param} or lower {param:val_fraction}", param="samples")
    assert str(err) == "no samples left; raise 'samples' or lower 'val_fraction'"  # the library's names
    assert err.phrase(cli_option) == "no samples left; raise --samples or lower --val-fraction"
    assert err.phrase(lambda p: f"<{p.upper()}>") == "no samples left; raise <SAMPLES> or lower <VAL_FRACTION>"
    assert err.params() == ["samples", "val_fraction"]
    plain = InputError("'a.tif' holds no valid cell {not a placeholder}")
    assert str(plain) == plain.phrase(cli_option) == "'a.tif' holds no valid cell {not a placeholder}"
    with pytest.raises(GeocoreError, match="raise 'samples'"):
        raise err


def test_cli_names_come_from_the_command_that_ran(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.csv").write_text("x,y,v\n0,0,1\n")
    parser = build_parser()
    args = parser.parse_args(["magnetics", "transform", "in.tif", "out.tif", "--op", "rtp"])
    names = option_names(parser, args)
    assert names["stabilize"] == "--stabilize" and names["band"] == "--band" and names["input"] == "INPUT"
    args = parser.parse_args(["grid", "lines", "t.csv", "--cell", "100", "--value", "v", "--out", "o.tif"])
    assert option_names(parser, args)["source_crs"] == "--source-crs"


def test_cli_prints_flags(tmp_path, capsys):
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    src = tmp_path / "two.tif"
    with rasterio.open(src, "w", driver="GTiff", width=4, height=4, count=2, dtype="float32", crs="EPSG:32633",
                       transform=from_origin(0, 400, 100, 100)) as ds:
        ds.write(np.ones((2, 4, 4), np.float32))
    assert main(["-q", "grid", "convert", str(src), str(tmp_path / "o.tif")]) == 2
    assert capsys.readouterr().err == f"geocore: error: '{src}' has 2 bands; choose one with --band (1..2)\n"
