"""The ``geocore`` command line.

Every command calls one library function; errors in the user's input are
printed as one line (``geocore: error: ...``) with exit code 2, and progress
is shown with tqdm bars (:func:`geocore.progress.progress_bar`). Each domain's
commands live in its own ``cli.py`` (``geocore/lineaments/cli.py``, ...);
this module only assembles them.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Optional, Sequence

from . import __version__
from .errors import Cancelled, GeocoreError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="geocore", description=__doc__.splitlines()[0])
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
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.simplefilter("default")
    # matplotlib's 3-D toolkit clashes when a system copy sits beside the pip one (Debian + venv with
    # --system-site-packages); geocore draws only 2-D figures, so the warning is noise for its users
    warnings.filterwarnings("ignore", message="Unable to import Axes3D", category=UserWarning)
    try:
        return int(args.func(args) or 0)
    except Cancelled as exc:
        print(f"geocore: {exc}", file=sys.stderr)
        return 130
    except GeocoreError as exc:
        print(f"geocore: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("geocore: interrupted; no output was written", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
