"""The ``geocore`` command line.

Every command calls one library function; errors in the user's input are
printed as one line (``geocore: error: ...``) with exit code 2, and progress
is shown with tqdm bars (:func:`geocore.progress.progress_bar`). Each domain's
commands live in its own ``cli.py`` (``geocore/lineaments/cli.py``, ...);
this module only assembles them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Optional, Sequence

from . import __version__
from . import validate as V
from .errors import Cancelled, GeocoreError, cli_option


class _UsageError(Exception):
    """A command line argparse refused (printed as one line, exit 2)."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse with geocore's one-line errors: ``geocore: error: <command>: <problem>``."""

    def error(self, message: str):  # noqa: D401 (argparse API)
        command = " ".join(self.prog.split()[1:])
        hint = f" (see 'geocore {command} --help')" if command else " (see 'geocore --help')"
        raise _UsageError(f"{command + ': ' if command else ''}{message}{hint}")


#: Path options by argparse ``dest``: what kind of path each is. Inputs must exist and be files (or,
#: for ``input_path``, files or folders); outputs may not be folders, output folders not files.
_INPUT_FILES = {"probability", "detected", "expert", "cases", "area", "image", "images", "reference", "annotation",
                "reference_annotation", "matrix", "ppl", "xpl", "strokes", "classes", "model", "positions",
                "flat_field", "extra", "input"}
_INPUT_PATHS = {"tiles", "data"}
_OUTPUT_FILES = {"out", "output", "json", "map", "report", "tiles_report", "layout_png", "probability_out",
                 "corrected"}
_OUTPUT_FOLDERS = {"out_dir", "checkpoint_dir"}
#: Inputs GDAL may name by a connection string (NETCDF:"file":var): only a folder is refused here.
_GDAL_INPUTS = {("grid convert", "input"), ("magnetics transform", "input"), ("lineaments detect", "grid")}
_SUFFIXES = {("uncertainty", "out"): (V.VECTOR_SUFFIXES, "polygon layer"),
             ("uncertainty", "map"): (V.RASTER_SUFFIXES, "GeoTIFF"),
             ("uncertainty", "probability_out"): (V.RASTER_SUFFIXES, "GeoTIFF"),
             ("panorama stitch", "out"): (V.RASTER_SUFFIXES, "GeoTIFF"),
             ("panorama stitch", "report"): ((".csv",), "CSV table"),
             ("panorama stitch", "tiles_report"): ((".csv",), "CSV table"),
             ("panorama stitch", "layout_png"): ((".png",), "PNG picture"),
             ("xpl align", "out"): (V.RASTER_SUFFIXES, "GeoTIFF")}


def _not_folder(text: str) -> Path:
    p = Path(text)
    if p.is_dir() and not any(p.glob("*.adf")):  # an ArcInfo binary grid is a folder
        raise argparse.ArgumentTypeError(f"'{p}' is a folder; give a file")
    return p


def _command_of(parser: argparse.ArgumentParser) -> str:
    words = parser.prog.split()[1:]
    if words[:1] == ["microscopy"]:
        words = words[1:]
    if words[:1] == ["color"]:
        words = ["colour", *words[1:]]
    return " ".join(words)


def _check_types(parser: argparse.ArgumentParser) -> None:
    """Give every numeric and path option of every command its checked type (see :mod:`geocore.validate`)."""
    command = _command_of(parser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                _check_types(sub)
            continue
        if action.type in (int, float):
            rng = V.range_for(action.dest, command)
            if rng is None:
                raise RuntimeError(f"no range for '{action.dest}' of '{command}' in geocore.validate.RANGES")
            if action.type is int:
                rng = rng.as_integer()
            action.type = rng.parse
            action.range = rng
            if action.help != argparse.SUPPRESS:
                action.help = f"{action.help + '; ' if action.help else ''}{rng.describe()}"
        elif action.type is Path:
            key = (command, action.dest)
            if key in _GDAL_INPUTS:
                kind = _not_folder
            elif action.dest in _INPUT_FILES:
                kind = V.input_file
            elif action.dest in _INPUT_PATHS:
                kind = V.input_path
            elif action.dest in _OUTPUT_FOLDERS:
                kind = V.output_folder
            elif action.dest in _OUTPUT_FILES:
                suffixes, what = _SUFFIXES.get(key, (None, "file"))
                kind = V.typed(V.output_file, suffixes=suffixes, what=what)
            else:
                continue
            action.type = kind


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="geocore", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"geocore {__version__}")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    top = p.add_subparsers(dest="domain", required=True)

    from .grids.cli import register as register_grids
    from .lineaments.cli import register as register_lineaments
    from .magnetics.cli import register as register_magnetics
    from .microscopy.cli import register as register_microscopy
    from .minerals.cli import register as register_minerals
    from .panorama.cli import register as register_panorama

    register_lineaments(top)
    register_grids(top)
    register_magnetics(top)
    register_minerals(top)
    register_panorama(top)
    register_microscopy(top)
    _check_types(p)
    return p


def _oserror_message(exc: OSError) -> str:
    name = exc.filename or ""
    what = f"'{name}'" if name else "a file"
    reason = exc.strerror or str(exc)
    if isinstance(exc, PermissionError):
        return f"cannot write or read {what}: {reason}; choose a folder you may write to"
    if isinstance(exc, IsADirectoryError):
        return f"{what} is a folder where a file is needed; give a file path"
    if isinstance(exc, FileNotFoundError):
        return f"{what} does not exist; check the path"
    return f"cannot use {what}: {reason}; check the path and the free disk space"


def _foreign_error(exc: BaseException) -> Optional[str]:
    """One-line wording for errors of the libraries below geocore, or None to let them propagate."""
    if isinstance(exc, OSError) and not type(exc).__module__.startswith(("rasterio", "pyogrio", "fiona")):
        return _oserror_message(exc)
    if isinstance(exc, MemoryError):
        return "not enough memory for this input; use a smaller tile or input, or a machine with more memory"
    mod = type(exc).__module__
    if mod.startswith("rasterio"):
        return (f"could not read or write a raster ({exc}); the file may be truncated or damaged, "
                f"or not a raster GDAL reads")
    if mod.startswith("pyogrio"):
        return f"could not read or write a vector layer ({exc}); check the file and its format"
    return None


def _terminate(signum, frame):  # pragma: no cover (exercised by a subprocess test)
    raise KeyboardInterrupt


def _quiet_gdal() -> None:
    """Keep GDAL's own ``ERROR 1: ...`` lines off the terminal (geocore words each failure itself)."""
    os.environ.setdefault("CPL_LOG", os.devnull)


def option_names(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict:
    """Library parameter (argparse ``dest``) -> how the chosen subcommand spells it (``--crs``, ``INPUT``)."""
    names: dict = {}
    while parser is not None:
        chosen = None
        for action in parser._actions:  # noqa: SLF001 (argparse keeps no public list)
            if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
                chosen = action.choices.get(getattr(args, action.dest, None) or "")
            elif action.option_strings:
                names[action.dest] = max(action.option_strings, key=len)
            elif action.dest != argparse.SUPPRESS:
                names[action.dest] = action.metavar if isinstance(action.metavar, str) else action.dest.upper()
        parser = chosen
    return names


@contextlib.contextmanager
def command_warnings(record: bool = False):
    """The warning filters of a command: every warning once, except matplotlib's Axes3D one and OGR's
    remarks; the caller's filters are restored afterwards (``main`` may run inside a test or another
    program). With ``record`` the warnings are collected in the yielded list instead of shown."""
    with warnings.catch_warnings(record=record) as caught:
        warnings.simplefilter("default")
        # matplotlib's 3-D toolkit clashes when a system copy sits beside the pip one (Debian + venv with
        # --system-site-packages); geocore draws only 2-D figures, so the warning is noise for its users
        warnings.filterwarnings("ignore", message="Unable to import Axes3D", category=UserWarning)
        warnings.filterwarnings("ignore", module="pyogrio")  # OGR's remarks ("'crs' was not provided")
        yield caught


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one ``geocore`` command; returns the exit code (2: bad input, 130: cancelled).

    The caller's warning filters are left as they were (see :func:`command_warnings`)."""
    with command_warnings():
        return _run(argv)


def _run(argv: Optional[Sequence[str]]) -> int:
    _quiet_gdal()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        V.check_order(vars(args))
    except (_UsageError, GeocoreError) as exc:
        print(f"geocore: error: {exc}", file=sys.stderr)
        return 2
    previous = None
    if sys.platform != "win32":
        try:  # SIGTERM cleans up like Ctrl-C (no half-written outputs); only possible in the main thread
            previous = signal.signal(signal.SIGTERM, _terminate)
        except ValueError:
            previous = None
    try:
        with command_warnings(record=True) as notes:
            rc = int(args.func(args) or 0)
        # warnings are notes on a result: one line each, after the work, and none when the command failed
        for text in dict.fromkeys(" ".join(str(w.message).split()) for w in notes):
            print(f"geocore: note: {text}", file=sys.stderr)
        return rc
    except Cancelled as exc:
        print(f"geocore: {exc}", file=sys.stderr)
        return 130
    except GeocoreError as exc:
        names = option_names(parser, args)
        print(f"geocore: error: {exc.phrase(lambda p: names.get(p, cli_option(p)))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("geocore: interrupted; no output was written", file=sys.stderr)
        return 130
    except Exception as exc:
        msg = _foreign_error(exc)
        if msg is None:
            raise
        print(f"geocore: error: {' '.join(msg.split())}", file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
