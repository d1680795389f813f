"""The registry: built-ins come through entry points, in-process plugins register and leave."""

from __future__ import annotations

import importlib.metadata

import pytest
import torch

from wsbench import plugins
from wsbench.cli import main
from wsbench.codec.quantization import compact
from wsbench.errors import PluginError
from wsbench.hookspecs import hookimpl


class SignQuantizer:
    """Two shared values: the mean of the negative and of the non-negative weights."""

    name = "test-sign"

    def quantize(self, weights, k):
        return compact((weights.reshape(-1) >= 0).long(), weights.reshape(-1), 2, k)


class SignPlugin:
    @hookimpl
    def wsbench_register_quantizers(self, register):
        register("test-sign", SignQuantizer, "Test plugin: one bin per sign.")


@pytest.fixture
def sign_plugin():
    plugin = SignPlugin()
    plugins.register(plugin, name="test-sign-plugin")
    try:
        yield plugin
    finally:
        plugins.unregister(name="test-sign-plugin")


def test_builtins_are_registered_through_entry_points():
    eps = {ep.value for ep in importlib.metadata.entry_points(group="wsbench")}
    assert {"wsbench_plugins.quantizers", "wsbench_plugins.optimizers"} <= eps
    info = plugins.get("quantizer", "uniform")
    assert info.provider == "wsbench" and info.description


def test_in_process_plugin_is_listed_and_usable(sign_plugin, capsys, digits_cnn, tmp_path):
    assert main(["plugins", "--kind", "quantizer"]) == 0
    listing = capsys.readouterr().out
    assert "test-sign" in listing and "test-sign-plugin" in listing
    import wsbench

    cm = wsbench.compress_model(digits_cnn.model, 2, quantizer="test-sign")
    assert cm.quantization.d == 2
    state = wsbench.load_state_dict(cm.save(tmp_path / "s.wsb"))
    assert len(torch.unique(state["0.weight"])) <= 2


def test_unregistered_plugin_is_gone(sign_plugin):
    plugins.unregister(name="test-sign-plugin")
    with pytest.raises(PluginError, match="valid quantizers: kmeans, uniform"):
        plugins.get("quantizer", "test-sign")
    plugins.register(sign_plugin, name="test-sign-plugin")  # let the fixture clean up


def test_duplicate_name_is_an_error_naming_both_providers():
    class Clash:
        @hookimpl
        def wsbench_register_quantizers(self, register):
            register("uniform", SignQuantizer, "clash")

    plugins.register(Clash(), name="clashing-plugin")
    try:
        with pytest.raises(PluginError, match="provided twice.*wsbench.*clashing-plugin"):
            plugins.registry()
    finally:
        plugins.unregister(name="clashing-plugin")
    assert plugins.get("quantizer", "uniform").provider == "wsbench"


def test_plugin_that_raises_is_reported_by_name():
    class Broken:
        @hookimpl
        def wsbench_register_merges(self, register):
            def factory():
                raise RuntimeError("boom")
            register("broken", factory, "always fails")

    plugins.register(Broken(), name="broken-plugin")
    try:
        with pytest.raises(PluginError, match="merge 'broken'.*boom"):
            plugins.create("merge", "broken")
    finally:
        plugins.unregister(name="broken-plugin")
