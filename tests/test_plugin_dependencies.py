"""The plugin's library installer without QGIS: PyTorch wheel choice, pip commands, library folders."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from qgis_plugin import dependencies as deps


def _fake_nvidia_smi(folder, text):
    exe = folder / "nvidia-smi"
    exe.write_text(f"#!/bin/sh\necho '{text}'\n")  # a shell builtin: PATH holds only this folder
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return folder


@pytest.mark.skipif(os.name == "nt", reason="a shell script stands in for nvidia-smi")
def test_cuda_version_from_nvidia_smi(tmp_path, monkeypatch):
    header = "| NVIDIA-SMI 550.54.14   Driver Version: 550.54.14   CUDA Version: 12.6     |"
    monkeypatch.setenv("PATH", str(_fake_nvidia_smi(tmp_path, header)))
    assert deps.nvidia_cuda_version() == (12, 6)
    assert deps.torch_variant("auto") == ("cu126", "NVIDIA driver for CUDA 12.6 (nvidia-smi): PyTorch build cu126")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert deps.nvidia_cuda_version() is None
    assert deps.torch_variant("auto")[0] == "cpu"


def test_torch_variant_rules():
    assert deps.torch_variant("auto", cuda=None)[0] == "cpu"
    assert deps.torch_variant("auto", cuda=(12, 5))[0] == "cu124"  # the newest build the driver runs
    assert deps.torch_variant("auto", cuda=(13, 0))[0] == "cu128"
    assert deps.torch_variant("auto", cuda=(11, 4))[0] == "cpu"  # older than every CUDA build
    assert deps.torch_variant("cpu", cuda=(12, 4))[0] == "cpu"
    assert deps.torch_variant("index", cuda=(12, 4))[0] == "index"
    with pytest.raises(ValueError, match="unknown PyTorch source"):
        deps.torch_variant("rocm")


def test_pip_commands_put_pytorch_on_its_index_and_the_rest_on_the_configured_one(tmp_path):
    reqs = ["geocore", "torch>=2.1", "torchvision", "skan>=0.11"]
    cpu = deps.pip_commands(reqs, tmp_path, cuda=None, python="py")
    assert cpu == [
        ["py", "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
         "--prefix", str(tmp_path), "--index-url", "https://download.pytorch.org/whl/cpu", "torch>=2.1", "torchvision"],
        ["py", "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
         "--prefix", str(tmp_path), "skan>=0.11"]]
    gpu = deps.pip_commands(reqs, None, cuda=(12, 4), python="py", torch_index_base="https://mirror/whl/",
                            extra_args=["--break-system-packages"])
    assert gpu[0][8:] == ["--user", "--break-system-packages", "--index-url", "https://mirror/whl/cu124",
                          "torch>=2.1", "torchvision"]
    # the user site of a system-managed Python (PEP 668) gets the flag pip needs there, once
    user = deps.pip_commands(["skan"], None, cuda=None, python="py")[0]
    assert ("--break-system-packages" in user) == deps.externally_managed()
    # where PyTorch comes from the configured index (as on the test machine): one plain command
    plain = deps.pip_commands(reqs, tmp_path, torch_source="index", python="py")
    assert len(plain) == 1 and "--index-url" not in plain[0]
    assert plain[0][-3:] == ["torch>=2.1", "torchvision", "skan>=0.11"]


def test_site_dirs_are_found_in_any_prefix_layout(tmp_path):
    debian = tmp_path / "a" / "local" / "lib" / "python3.11" / "dist-packages"
    posix = tmp_path / "b" / "lib" / "python3.11" / "site-packages"
    windows = tmp_path / "c" / "Lib" / "site-packages"
    for folder in (debian, posix, windows):
        folder.mkdir(parents=True)
    assert deps.site_dirs(tmp_path / "a") == [debian]
    assert deps.site_dirs(tmp_path / "b") == [posix]
    assert deps.site_dirs(tmp_path / "c") == [windows]
    assert deps.site_dirs(tmp_path / "missing") == []
    (debian / "probe_geocore_pkg.py").write_text("VALUE = 42\n")
    try:
        assert deps.activate_targets([tmp_path / "a"]) == [str(debian)]
        import probe_geocore_pkg

        assert probe_geocore_pkg.VALUE == 42
        assert deps.activate_targets([tmp_path / "a"]) == []  # once only
    finally:
        sys.path.remove(str(debian))
        sys.modules.pop("probe_geocore_pkg", None)


def test_install_message_without_and_with_libraries():
    only_geocore = deps.install_message(["geocore"])
    assert "reinstall the plugin" in only_geocore and "pip install" not in only_geocore
    msg = deps.install_message(["torch>=2.1"], "Detect lineaments")
    assert msg.startswith("'Detect lineaments' needs Python libraries that QGIS's Python cannot find: torch>=2.1.")
    assert msg.count("-m pip install") == 1
