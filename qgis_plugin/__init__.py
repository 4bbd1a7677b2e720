"""geocore QGIS plugin: deep-learning lineament detection as Processing algorithms.

A thin adapter over the ``geocore`` library (bundled under ``ext/`` in the
plugin zip); see docs/qgis_plugin.md.
"""


def classFactory(iface):  # noqa: N802 (QGIS entry point)
    from .plugin import GeocorePlugin

    return GeocorePlugin(iface)
