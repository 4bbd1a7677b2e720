"""Forward model against closed-form answers, and the synthetic survey generator."""

import numpy as np
import pytest

from geocore.errors import GeocoreError
from geocore.magnetics import Prism, SurveyConfig, synthesize_sample, synthesize_survey, total_field_anomaly
from geocore.magnetics.forward import dipole_total_field, field_direction


@pytest.mark.parametrize("strike", [0.0, 33.0, 120.0])
@pytest.mark.parametrize("inc,dec", [(90.0, 0.0), (60.0, 10.0), (-35.0, -100.0), (5.0, 45.0)])
def test_small_distant_prism_is_a_dipole(strike, inc, dec):
    # a 20 m cube 500 m deep seen from a 2 km x 2 km grid behaves as a point dipole
    a = 20.0
    m = np.array([1.5, -0.7, 2.0])
    prism = Prism(1000, 2000, a, a, -500, -500 - a, strike, m)
    e, n = np.meshgrid(np.linspace(0, 2000, 31), np.linspace(1000, 3000, 31))
    dt = total_field_anomaly([prism], e, n, 0.0, inclination=inc, declination=dec)
    ref = dipole_total_field(m * a**3, np.array([1000, 2000, -500 - a / 2]), e, n, 0 * e,
                             inclination=inc, declination=dec)
    assert np.abs(dt - ref).max() < 1e-3 * np.abs(ref).max()


def test_strike_rotation_rotates_the_field():
    # a N-S dyke under a vertical field is the E-W dyke's map transposed
    m = np.array([0.0, 0.0, -2.0])
    ns = Prism(0, 0, 400, 40, -50, -300, 0.0, m)
    ew = Prism(0, 0, 400, 40, -50, -300, 90.0, m)
    x = np.linspace(-500, 500, 21)
    E, N = np.meshgrid(x, x)
    f_ns = total_field_anomaly([ns], E, N)
    f_ew = total_field_anomaly([ew], E, N)
    assert np.abs(f_ns).max() > 10
    assert np.allclose(f_ns, f_ew.T, atol=1e-6 * np.abs(f_ns).max())


def test_vertical_dyke_anomaly_is_symmetric_and_peaks_over_it():
    m = 2.0 * field_direction(90, 0)
    dyke = Prism(0, 0, 5000, 50, -25, -2000, 0.0, m)
    e = np.linspace(-1000, 1000, 81)
    dt = total_field_anomaly([dyke], e, 0 * e)
    assert np.argmax(dt) == 40
    assert np.allclose(dt, dt[::-1], rtol=1e-9, atol=1e-9)
    assert dt.max() > 0


def test_samples_are_reproducible_and_seed_dependent():
    cfg = SurveyConfig.from_preset("realistic")
    a = synthesize_sample(np.random.default_rng([7, 3]), 64, 64, 50.0, cfg)
    b = synthesize_sample(np.random.default_rng([7, 3]), 64, 64, 50.0, cfg)
    c = synthesize_sample(np.random.default_rng([7, 4]), 64, 64, 50.0, cfg)
    assert np.array_equal(a.field, b.field) and np.array_equal(a.mask, b.mask)
    assert not np.array_equal(a.field, c.field)


def test_paper_preset_follows_the_paper():
    cfg = SurveyConfig.from_preset("paper")
    counts = []
    for i in range(30):
        s = synthesize_sample(np.random.default_rng([1, i]), 192, 192, 50.0, cfg)
        counts.append(len(s.dykes))
        assert s.inclination == 90.0 and not s.distractors
        # vertical field and magnetisation: the magnetisation has no horizontal part
        assert all(np.allclose(d.magnetization[:2], 0) for d in s.dykes)
        assert s.mask.dtype == np.uint8 and set(np.unique(s.mask)) <= {0, 1}
    assert min(counts) >= 1 and max(counts) <= 10 and len(set(counts)) > 3


def test_mask_covers_the_dyke_footprint():
    cfg = SurveyConfig(dykes=(1, 1), paper_noise=(0.0, 0.0))
    s = synthesize_sample(np.random.default_rng(5), 96, 96, 10.0, cfg)
    d = s.dykes[0]
    # the centre cell of the dyke, if inside the grid, is labelled
    col, row = int(d.easting / 10.0), int(96 - d.northing / 10.0)
    assert 0 <= row < 96 and 0 <= col < 96  # seed 5 puts it inside
    assert s.mask[row, col] == 1
    # the labelled area is about length x width (clipped by the grid)
    assert s.mask.sum() <= (d.length / 10 + 2) * (max(d.width / 10, 1) + 2)


def test_realistic_preset_has_distractors_and_inclined_fields():
    cfg = SurveyConfig.from_preset("realistic")
    incs, n_distractors = [], 0
    for i in range(20):
        s = synthesize_sample(np.random.default_rng([2, i]), 64, 64, 50.0, cfg)
        incs.append(s.inclination)
        n_distractors += len(s.distractors)
    assert min(incs) < 0 and any(0 < i < 90 for i in incs) and 90.0 in incs
    assert n_distractors > 0


def test_synthesize_survey_writes_georeferenced_files(tmp_path):
    import geopandas as gpd
    import rasterio

    res = synthesize_survey(tmp_path / "s", rows=100, cols=150, cell_size=25.0, seed=3)
    with rasterio.open(res.field_path) as f, rasterio.open(res.mask_path) as m:
        assert (f.height, f.width) == (100, 150)
        assert f.crs.is_projected and f.res == (25.0, 25.0)
        assert f.dtypes[0] == "float32" and f.tags()["units"] == "nT"
        field = f.read(1)
        assert np.isfinite(field).all() and np.ptp(field) > 1
        assert m.read(1).max() == 1
    axes = gpd.read_file(res.axes_path)
    assert len(axes) == res.n_dykes >= 1
    assert axes.crs.to_epsg() == 32633
    # every axis lies within the survey extent
    with rasterio.open(res.field_path) as f:
        b = f.bounds
    xmin, ymin, xmax, ymax = axes.total_bounds
    assert b.left - 1e-6 <= xmin and xmax <= b.right + 1e-6 and b.bottom - 1e-6 <= ymin and ymax <= b.top + 1e-6


def test_synthesize_survey_rejects_bad_sizes(tmp_path):
    with pytest.raises(GeocoreError, match="too small"):
        synthesize_survey(tmp_path, rows=10, cols=100)
    with pytest.raises(GeocoreError, match="cell size"):
        synthesize_survey(tmp_path, rows=64, cols=64, cell_size=0)


def _one_dyke(white_share: float, magnetization: float = 2.0):
    """A 128 x 128 survey holding one vertical dyke and white noise of ``white_share`` of the amplitude of
    that dyke magnetised at 2 A/m (the noise does not change with ``magnetization``)."""
    from geocore.magnetics.synthetic import SyntheticSample

    c = 50.0
    dyke = Prism(easting=64 * c, northing=64 * c, length=90 * c, width=2 * c, top=-1 * c, bottom=-40 * c,
                 strike=30.0, magnetization=np.array([0.0, 0.0, magnetization]))
    E, N = np.meshgrid((np.arange(128) + 0.5) * c, (128 - np.arange(128) - 0.5) * c)
    field = total_field_anomaly([dyke], E, N, 0.0, inclination=90.0, declination=0.0)
    noise = np.random.default_rng(0).normal(0.0, 1.0, field.shape) * white_share * np.ptp(field) * 2.0 / magnetization
    return SyntheticSample((field + noise).astype(np.float32), np.zeros(field.shape, np.uint8), [dyke], [], c,
                           90.0, 0.0)


def test_dyke_visibility_measures_a_dyke_against_the_rest_of_its_survey():
    from geocore.magnetics.synthetic import dyke_visibility

    clean = dyke_visibility(_one_dyke(0.0))
    assert clean.shape == (1,) and clean[0] > 1e3  # nothing else in the survey: plain
    noisy = [float(dyke_visibility(_one_dyke(w))[0]) for w in (0.005, 0.02, 0.08, 0.3, 1.0)]
    assert noisy == sorted(noisy, reverse=True)  # more clutter, less visible
    assert noisy[0] > 4 and noisy[-1] < 1  # a faint wash of noise vs buried under it
    # a dyke magnetised 4 times less under the same noise: 4 times less visible
    weak = float(dyke_visibility(_one_dyke(0.02, magnetization=0.5))[0])
    assert weak == pytest.approx(noisy[1] / 4, rel=0.05)


def test_synthetic_axes_carry_their_visibility(tmp_path):
    import geopandas as gpd

    from geocore.magnetics.synthetic import dyke_visibility

    cfg = SurveyConfig.from_preset("realistic")
    res = synthesize_survey(tmp_path / "s", rows=96, cols=96, cell_size=50.0, seed=8, config=cfg)
    axes = gpd.read_file(res.axes_path)
    sample = synthesize_sample(np.random.default_rng(8), 96, 96, 50.0, cfg)
    vis = dyke_visibility(sample)
    np.testing.assert_allclose(axes["visibility"].to_numpy(), vis[axes["id"].to_numpy() - 1], rtol=1e-6)
    assert np.isfinite(axes["visibility"]).all() and (axes["visibility"] > 0).all()
