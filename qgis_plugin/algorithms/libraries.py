"""Checking and installing the Python libraries geocore needs, with a self-test (group Setup)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Dict

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterString,
)

from .. import dependencies
from ..compat import FILE_BEHAVIOR_FOLDER, FLAG_ADVANCED
from .base import GeocoreAlgorithm

TORCH_LABELS = ("For this machine: the CUDA build when nvidia-smi finds an NVIDIA GPU, else the CPU build",
                "CPU build", "CUDA build (the newest the NVIDIA driver supports)",
                "As the configured pip index serves it (no PyTorch index)")


class InstallDependencies(GeocoreAlgorithm):
    NAME = "installdependencies"
    DISPLAY_NAME = "Check / install Python libraries"
    GROUP = "setup"
    HELP = f"""<p>Checks which Python libraries each geocore algorithm needs and QGIS's Python lacks, installs
the missing ones with pip (run by QGIS's own Python), and runs a self-test.</p>
<h3>Inputs</h3>
<ul><li><b>Install</b>: off only checks and reports.</li>
<li><b>Folder</b>: where the libraries go; empty: a folder the plugin owns in the QGIS profile
(<code>python/geocore-libs-pyX.Y</code>), put on Python's path whenever the plugin loads. pip installs
there only what QGIS's Python does not already have (<code>pip install --prefix</code>).
<b>User site</b> (advanced) installs with <code>pip install --user</code> instead.</li>
<li><b>PyTorch</b>: its CPU or CUDA wheels come from PyTorch's own index
(<code>{dependencies.TORCH_INDEX_BASE}/cpu</code>, <code>.../cu124</code>, ...), chosen for this machine: the CUDA
build when <code>nvidia-smi</code> reports an NVIDIA driver (the newest build the driver supports), else the
CPU build. Choose <i>as the configured pip index serves it</i> where PyTorch comes from a local or company
index. The <b>PyTorch index</b> and <b>extra pip options</b> (e.g. <code>--index-url URL</code> of a mirror,
<code>--break-system-packages</code> for the user site on Debian) are advanced parameters. Every pip command
is written to the log before it runs.</li>
<li><b>Also install</b> (advanced): further pip requirements, space-separated.</li>
<li><b>Self-test</b>: in a fresh QGIS Python, imports every library and reports its version, the device the
networks will use (CUDA or CPU) and the time of one 192 x 192 tile through the shipped lineament
model.</li></ul>
<h3>Outputs</h3>
<ul><li>The requirements missing before and after, the library folder, the device and the tile time in
milliseconds. Restart QGIS after installing PyTorch or GDAL-based libraries into a running session.</li></ul>"""

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterBoolean("INSTALL", "Install the missing libraries (off: check only)",
                                                        defaultValue=True))
        self.addParameter(QgsProcessingParameterFile("FOLDER", "Folder (empty: the plugin's folder in the profile)",
                                                     behavior=FILE_BEHAVIOR_FOLDER, optional=True))
        self.addParameter(QgsProcessingParameterEnum("TORCH", "PyTorch", options=list(TORCH_LABELS),
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterBoolean("SELF_TEST", "Self-test afterwards", defaultValue=True))
        for param in (
            QgsProcessingParameterBoolean("USER_SITE", "Install into the user site (pip --user) instead",
                                          defaultValue=False),
            QgsProcessingParameterString("TORCH_INDEX", "PyTorch wheel index (base URL)",
                                         defaultValue=dependencies.TORCH_INDEX_BASE),
            QgsProcessingParameterString("PIP_ARGS", "Extra pip options", optional=True),
            QgsProcessingParameterString("PACKAGES", "Also install (pip requirements, space-separated)",
                                         optional=True),
        ):
            param.setFlags(param.flags() | FLAG_ADVANCED)
            self.addParameter(param)
        self.addOutput(QgsProcessingOutputString("MISSING_BEFORE", "Missing before"))
        self.addOutput(QgsProcessingOutputString("MISSING_AFTER", "Missing after"))
        self.addOutput(QgsProcessingOutputString("LIBRARY_FOLDER", "Library folder"))
        self.addOutput(QgsProcessingOutputString("DEVICE", "Device"))
        self.addOutput(QgsProcessingOutputNumber("TILE_MS", "Time of one 192 x 192 tile (ms)"))

    def processAlgorithm(self, parameters: Dict, context, feedback) -> Dict:  # noqa: N802
        from .. import algorithms

        report_missing([a for a in algorithms.ALGORITHMS if a is not InstallDependencies], feedback)
        before = dependencies.missing_requirements()
        extra = self.parameterAsString(parameters, "PACKAGES", context).split()
        user_site = self.parameterAsBool(parameters, "USER_SITE", context)
        folder = self.parameterAsFile(parameters, "FOLDER", context).strip()
        target = None if user_site else (Path(folder) if folder else dependencies.default_target())
        wanted = [r for r in before if r != "geocore"] + extra
        if self.parameterAsBool(parameters, "INSTALL", context) and wanted:
            source = dependencies.TORCH_SOURCES[self.parameterAsEnum(parameters, "TORCH", context)]
            variant, why = dependencies.torch_variant(source)
            if any(r.split("<")[0].split(">")[0].split("=")[0] in dependencies.TORCH_MODULES for r in wanted):
                feedback.pushInfo(f"PyTorch: {why}")
            feedback.pushInfo(f"installing into {target or 'the user site'}: {' '.join(wanted)}")
            try:
                added = dependencies.install(
                    wanted, target, log=feedback.pushConsoleInfo,
                    progress=lambda f: feedback.setProgress(80.0 * f), cancel=feedback.isCanceled,
                    torch_source=source,
                    torch_index_base=self.parameterAsString(parameters, "TORCH_INDEX", context).strip()
                    or dependencies.TORCH_INDEX_BASE,
                    extra_args=shlex.split(self.parameterAsString(parameters, "PIP_ARGS", context)))
            except dependencies.InstallError as exc:
                raise QgsProcessingException(str(exc)) from exc
            feedback.pushInfo(f"on Python's path now: {', '.join(added) or 'nothing new'}")
        elif wanted:
            feedback.pushInfo("not installing (check only)")
        after = dependencies.missing_requirements()
        feedback.pushInfo("missing now: " + (", ".join(after) or "nothing"))
        results = {"MISSING_BEFORE": " ".join(before), "MISSING_AFTER": " ".join(after),
                   "LIBRARY_FOLDER": str(target) if target else "user site", "DEVICE": "", "TILE_MS": None}
        if self.parameterAsBool(parameters, "SELF_TEST", context):
            feedback.pushInfo("self-test in a fresh QGIS Python ...")
            try:
                report = dependencies.run_self_test([target] if target else [])
            except dependencies.InstallError as exc:
                raise QgsProcessingException(str(exc)) from exc
            for line in dependencies.self_test_lines(report):
                feedback.pushInfo(line)
            results.update(DEVICE=report.get("device") or "", TILE_MS=report.get("tile_ms"))
        feedback.setProgress(100.0)
        return results


def report_missing(algorithm_classes, feedback) -> None:
    """Log which algorithms can run and what the others lack."""
    blocked = {}
    for cls in algorithm_classes:
        missing = dependencies.missing_for_algorithm(cls.NAME)
        if missing:
            blocked[cls.DISPLAY_NAME] = missing
    feedback.pushInfo(f"{len(algorithm_classes) - len(blocked)} of {len(algorithm_classes)} geocore algorithms "
                      "have every library they need")
    for name, missing in blocked.items():
        feedback.pushInfo(f"  {name}: needs {', '.join(missing)}")
