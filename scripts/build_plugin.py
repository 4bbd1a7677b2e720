"""Build the QGIS plugin zip: ``python scripts/build_plugin.py`` -> ``dist/geocore_qgis.zip``.

The zip holds one folder, ``geocore_qgis/``, as QGIS's "Install from ZIP" expects:

- the plugin code from ``qgis_plugin/`` (with its icons and .qml styles);
- ``metadata.txt`` from the repository root;
- the pure-Python ``geocore`` library, with its shipped model files, under
  ``geocore_qgis/ext/geocore/``; the plugin puts ``ext/`` on ``sys.path`` only
  when QGIS's Python has no ``geocore`` of its own.

Third-party libraries (PyTorch, rasterio, ...) are not bundled; see
docs/qgis_plugin.md. The zip is reproducible: fixed timestamps, sorted entries.
Needs only the standard library.
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_NAME = "geocore_qgis"
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo", ".orig", ".rej", ".swp"}
FIXED_TIME = (2024, 1, 1, 0, 0, 0)


def _files(folder: Path):
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        hidden = any(part.startswith(".") for part in rel.parts)  # incl. .*.partial folders of atomic writes
        if path.is_file() and not hidden and not (set(rel.parts) & SKIP_DIRS) and path.suffix not in SKIP_SUFFIXES:
            yield path, rel


def _version(text: str, pattern: str, source: str) -> str:
    match = re.search(pattern, text, re.MULTILINE)
    if not match:
        raise SystemExit(f"build_plugin: no version found in {source}")
    return match.group(1).strip()


def check_versions() -> str:
    """The plugin's metadata version must equal the bundled library's version."""
    plugin = _version((ROOT / "metadata.txt").read_text(encoding="utf-8"), r"^version=(.+)$", "metadata.txt")
    library = _version((ROOT / "geocore" / "__init__.py").read_text(encoding="utf-8"),
                       r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", "geocore/__init__.py")
    if plugin != library:
        raise SystemExit(f"build_plugin: metadata.txt says version {plugin} but geocore is {library}; make them equal")
    return plugin


def build(out: Path) -> Path:
    version = check_versions()
    entries = [(ROOT / "metadata.txt", Path("metadata.txt"))]
    entries += list(_files(ROOT / "qgis_plugin"))
    entries += [(src, Path("ext") / "geocore" / rel) for src, rel in _files(ROOT / "geocore")]
    for extra in ("LICENSE", "LICENSE.txt", "LICENSE.md"):
        if (ROOT / extra).is_file():
            entries.append((ROOT / extra, Path(extra)))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".zip.partial")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for src, rel in sorted(entries, key=lambda e: e[1].as_posix()):
            info = zipfile.ZipInfo(f"{PLUGIN_NAME}/{rel.as_posix()}", date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, src.read_bytes())
    tmp.replace(out)
    print(f"{out} (geocore_qgis {version}, {len(entries)} files, {out.stat().st_size / 1e6:.1f} MB)")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / f"{PLUGIN_NAME}.zip")
    args = parser.parse_args(argv)
    build(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
