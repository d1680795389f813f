"""Every numeric plugin option has a finite range, checked in one place (wsbench.options) before
any work: the same line whether the value comes from --set, an experiment file or the API."""

from __future__ import annotations

import json
import math
from typing import Annotated

import pytest

from wsbench import options, plugins
from wsbench.cli import main
from wsbench.errors import ConfigError, PluginError
from wsbench.hookspecs import hookimpl
from wsbench.options import Range


def refused(capsys, argv: list[str]) -> str:
    """The one error line of a refused command (exit 2, no traceback)."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (argv, out, err)
    assert err.count("\n") == 1 and err.startswith("wsbench: error: ") and "Traceback" not in err
    return err.strip()


def builtins() -> list[tuple[str, str]]:
    return [(kind, name) for kind, by_name in plugins.registry().items()
            for name, info in by_name.items() if info.provider == "wsbench"]


@pytest.mark.parametrize("kind,name", builtins())
def test_every_numeric_option_of_a_builtin_plugin_has_a_finite_range(kind, name):
    declared = options.of(kind, name)
    assert declared is not None, f"{kind} {name} takes any option unchecked"
    for option in declared.values():
        if option.types and set(option.types) & {int, float}:
            assert option.range is not None, f"{kind} {name}: {option.name} has no range"
            assert math.isfinite(option.range.lo) and math.isfinite(option.range.hi)
            default = option.default
            assert default is None or default in option.range, (option.name, default)


# (kind, plugin flag, plugin, option, bad value, allowed range): the examples and more
BAD = [
    ("task", "--task", "digits-cnn", "epochs", 1_000_000_000, "[1, 10000]"),
    ("quantizer", "--quantizer", "kmeans", "max_iter", 1_000_000_000, "[1, 10000]"),
    ("quantizer", "--quantizer", "kmeans", "tol", -1, "[0, 1]"),
    ("quantizer", "--quantizer", "kmeans", "max_samples", -1, "[1, 100000000]"),
    ("optimizer", "--optimizer", "nsga2", "pop_size", 1, "[2, 100000]"),
    ("optimizer", "--optimizer", "pso", "c1", 1e9, "[0, 10]"),
    ("space", "--space", "k-clip", "q_hi_min", 0.5, "(0.5, 1]"),
    ("merge", "--merge", "neighbor", "tolerance", 2, "[0, 1]"),
]
IDS = [f"{b[2]}.{b[3]}={b[4]}" for b in BAD]


@pytest.mark.parametrize("kind,flag,name,option,value,span", BAD, ids=IDS)
def test_compress_refuses_an_option_out_of_range_before_any_work(capsys, tmp_path, no_search, kind,
                                                                 flag, name, option, value, span):
    err = refused(capsys, ["compress", flag, name, "--set", f"{kind}.{option}={value}",
                           "--out", str(tmp_path / "out")])
    assert err.endswith(f"option {option} of {kind} {name!r} must be in {span}, got {value!r}")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind,flag,name,option,value,span", BAD, ids=IDS)
def test_an_experiment_file_and_run_set_refuse_it_the_same_way(capsys, tmp_path, no_search, kind,
                                                               flag, name, option, value, span):
    lists = {"task": "tasks", "quantizer": "quantizers", "optimizer": "optimizers",
             "space": "spaces", "merge": "merges"}
    entries = {"tasks": ['"digits-cnn"'], "optimizers": ['"random"']}
    entries[lists[kind]] = [f'{{ name = "{name}", {option} = {value!r} }}']
    text = "".join(f"{k} = [{', '.join(v)}]\n" for k, v in entries.items())
    path = tmp_path / "e.toml"
    path.write_text(f'name = "t"\nbudget = 10\n{text}')
    words = f"option {option} of {kind} {name!r} must be in {span}, got {value!r}"
    err = refused(capsys, ["run", str(path), "--out", str(tmp_path / "r")])
    assert err.startswith(f"wsbench: error: {path}: {lists[kind]}[0]: ") and err.endswith(words)
    # the same value from the command line, over a file that has the plugin with its defaults
    entries[lists[kind]] = [f'"{name}"']
    path.write_text('name = "t"\nbudget = 10\n'
                    + "".join(f"{k} = [{', '.join(v)}]\n" for k, v in entries.items()))
    item = f"{kind}.{option}={value}"
    err = refused(capsys, ["run", str(path), "--set", item, "--out", str(tmp_path / "r")])
    assert err == f"wsbench: error: --set {item}: {words}"
    assert not (tmp_path / "r").exists()


def test_the_python_api_is_held_to_the_same_ranges():
    with pytest.raises(ConfigError, match=r"option max_iter of quantizer 'kmeans' must be in "
                                          r"\[1, 10000\], got 1000000000"):
        plugins.create("quantizer", "kmeans", max_iter=10**9)
    with pytest.raises(ConfigError, match="option epochs of task 'digits-mlp' takes an integer"):
        plugins.create("task", "digits-mlp", epochs=2.5)
    with pytest.raises(ConfigError, match="has no option 'epoch'.*did you mean 'epochs'"):
        plugins.create("task", "digits-mlp", epoch=3)
    assert plugins.create("quantizer", "kmeans", max_iter=10_000, tol=0).max_iter == 10_000
    # None stays allowed where the option's annotation allows it (a default of one per core)
    assert plugins.create("executor", "local", workers=None) is not None


def test_range_bounds_and_what_is_not_a_number():
    closed, half = Range(1, 10), Range(0.0, 1.0, lo_open=True)
    assert 1 in closed and 10 in closed and 0 not in closed and 11 not in closed
    assert 0.0 not in half and 1.0 in half and 1e-9 in half
    assert True not in closed and "3" not in closed and math.nan not in half
    assert math.inf not in Range(0, math.inf)
    assert str(closed) == "[1, 10]" and str(half) == "(0, 1]"
    assert str(Range(0, 4294967295)) == "[0, 4294967295]" and str(Range(1e-7, 0.5)) == "[1e-07, 0.5]"


def test_wsbench_plugins_lists_the_ranges(capsys):
    assert main(["plugins", "--kind", "quantizer", "--options"]) == 0
    out = capsys.readouterr().out
    assert "    max_iter: int in [1, 10000] (default 50)" in out
    assert "    tol: float in [0, 1] (default 1e-07)" in out
    assert main(["plugins", "--kind", "executor", "--options", "--json"]) == 0
    listing = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert listing["process"]["options"]["workers"] == "int or none in [1, 4096] (default None)"


class Ranged:
    """A third-party style plugin: a string annotation (postponed evaluation) with a range."""

    def __init__(self, batch: Annotated[int, Range(1, 64)] = 8, rate=0.5) -> None:
        self.batch, self.rate = batch, rate


class TakesAnything:
    def __init__(self, **options) -> None:
        self.options = options


class ThirdParty:
    @hookimpl
    def wsbench_register_quantizers(self, register):
        register("test-ranged", Ranged, "test plugin with a declared range")
        register("test-anything", TakesAnything, "test plugin that takes any option")


@pytest.fixture
def third_party():
    plugins.register(ThirdParty(), name="test-ranges-plugin")
    try:
        yield
    finally:
        plugins.unregister(name="test-ranges-plugin")


def test_a_third_party_plugin_declares_ranges_the_same_way(third_party):
    with pytest.raises(ConfigError, match=r"option batch of quantizer 'test-ranged' must be in "
                                          r"\[1, 64\], got 65"):
        plugins.create("quantizer", "test-ranged", batch=65)
    # without an annotation, the default's type; no range, but never NaN
    with pytest.raises(ConfigError, match="option rate of quantizer 'test-ranged' takes a number"):
        plugins.create("quantizer", "test-ranged", rate="fast")
    with pytest.raises(ConfigError, match="must be a finite number, got nan"):
        plugins.create("quantizer", "test-ranged", rate=math.nan)
    assert plugins.create("quantizer", "test-ranged", batch=64, rate=3).batch == 64
    # a plugin that declares nothing still gets no NaN and no population over the cap
    with pytest.raises(ConfigError, match="must be a finite number"):
        plugins.create("quantizer", "test-anything", whatever=math.inf)
    with pytest.raises(ConfigError, match="pop_size .* must be at most 100000"):
        plugins.create("quantizer", "test-anything", pop_size=10**9)
    assert plugins.create("quantizer", "test-anything", whatever=1).options == {"whatever": 1}


def test_an_unknown_name_carries_its_suggestion_from_the_registry():
    """The "did you mean" is the registry's, so the API, flags and files all get it."""
    with pytest.raises(PluginError, match=r"unknown optimizer 'randm'; valid optimizers: .*; "
                                          r"did you mean 'random'\?$"):
        plugins.get("optimizer", "randm")
    with pytest.raises(PluginError, match=r"unknown plugin kind 'optimiser'.*did you mean 'optimizer'\?"):
        plugins.get("optimiser", "nsga2")
    with pytest.raises(PluginError) as far:
        plugins.get("optimizer", "zzzzzz")
    assert "did you mean" not in str(far.value)


def test_an_unknown_choice_is_suggested_where_it_is_refused(capsys, tmp_path):
    from wsbench import validate
    from wsbench.search.metrics import get_metric

    with pytest.raises(ConfigError, match=r"did you mean 'accuracy'\?$"):
        get_metric("acurracy")
    with pytest.raises(ConfigError, match=r"unknown metric 'acuracy'.*did you mean 'accuracy'\?$"):
        validate.one_of("acuracy", "--metric", ("f1", "accuracy"), "metric")
    path = tmp_path / "e.toml"
    path.write_text('name = "t"\nbudget = 10\ntasks = ["digits-cnn"]\noptimizers = ["nsga"]\n')
    err = refused(capsys, ["run", str(path), "--out", str(tmp_path / "r")])
    assert err.endswith("did you mean 'nsga3' or 'nsga2'?")


def test_an_integer_too_long_for_python_is_one_line(capsys, tmp_path, no_search):
    """Past 4300 digits tomllib raises a plain ValueError, not a TOMLDecodeError."""
    huge = "1" + "0" * 5000
    err = refused(capsys, ["compress", "--set", f"merge.tolerance={huge}", "--out", str(tmp_path)])
    assert err.endswith("option tolerance of merge 'neighbor' must be in [0, 1], got inf")
    path = tmp_path / "e.toml"
    path.write_text(f'name = "t"\nbudget = {huge}\ntasks = ["digits-cnn"]\noptimizers = ["random"]\n')
    argv = ["run", str(path), "--out", str(tmp_path / "r")]
    assert f"{path}: not valid TOML: Exceeds the limit" in refused(capsys, argv)
