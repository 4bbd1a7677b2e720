"""Helpers shared by the microscopy tests (not a test module)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

DATA = Path(os.environ.get("GEOCORE_TEST_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")).resolve()
SECTIONS = DATA / "sections"


def needs_sections():
    return pytest.mark.skipif(not (SECTIONS / "mirror1200.jpg").is_file(),
                              reason=f"real test data not found at {SECTIONS} (set GEOCORE_TEST_DATA)")


def write_png(path, rgb) -> Path:
    rgb = np.asarray(rgb, np.uint8)
    cv2.imwrite(str(path), rgb[..., ::-1] if rgb.ndim == 3 else rgb)
    return Path(path)


def read_png(path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return img[..., ::-1] if img.ndim == 3 else img


def run_error(main, capsys, argv) -> str:
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2, err
    assert len(err) == 1 and err[0].startswith("geocore: error: "), err
    return err[0]
