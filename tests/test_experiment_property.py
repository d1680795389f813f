"""Property: any experiment file the parser accepts gives a valid plan; anything else is one
ConfigError line. Values are drawn from plausible and implausible ones alike."""

from __future__ import annotations

import json
import math
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_validate import toml_text

from wsbench import validate
from wsbench.errors import ConfigError
from wsbench.experiments.experiment import Experiment, load_experiment

FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
def mostly(good: st.SearchStrategy, wild: st.SearchStrategy) -> st.SearchStrategy:
    """``good`` four times in five: most files get far enough to test the later checks."""
    return st.integers(0, 4).flatmap(lambda i: good if i else wild)


floats = st.one_of(st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -1.0, 1e308]),
                   st.floats(allow_nan=True, allow_infinity=True))
shares = mostly(st.sampled_from([0.0, 0.001, 0.005, 0.01, 0.5, 0.99]),
                st.one_of(floats, st.integers(-2, 2)))
specials = st.sampled_from([math.nan, math.inf, -math.inf, -1.0])
positives = st.one_of(st.sampled_from([0.2, 0.9, 1.0, 2, 64.0, 1024]), specials)
names = mostly(st.sampled_from(["t", "exp-1", "a.b", "A_9"]),
               st.one_of(st.sampled_from(["..", ".", "../x", "a/b", ".hid", "-x", "", "x" * 101,
                                          "a b", "\u00e9"]), st.text(max_size=12)))
counts = mostly(st.integers(1, 60), st.one_of(
    st.integers(-3, 10**12), st.sampled_from([0, 1_000_000, 1_000_001, 100_000, 100_001, 10_000])))


def plugin(names_: list[str], options: dict) -> st.SearchStrategy:
    table = st.fixed_dictionaries({"name": st.sampled_from(names_)},
                                  optional={"label": names, **options})
    return st.one_of(st.sampled_from(names_), table)


def plugins(names_: list[str], options: dict) -> st.SearchStrategy:
    one = plugin(names_, options)
    return mostly(st.lists(one, min_size=1, max_size=1), st.lists(one, min_size=1, max_size=3))


experiments = st.fixed_dictionaries(
    {"name": names, "tasks": plugins(["digits-mlp", "digits-cnn"], {}),
     "optimizers": plugins(["random", "nsga2"], {"pop_size": counts}), "budget": counts},
    optional={
        "seeds": st.one_of(counts, mostly(st.lists(st.integers(0, 99), max_size=4, unique=True),
                                   st.lists(st.integers(-2, 2**40), max_size=4))),
        "max_requested": counts,
        "spaces": plugins(["k"], {"k_max": st.integers(-1, 5000)}),
        "merges": plugins(["neighbor", "none"], {"tolerance": shares}),
        "drops": st.lists(shares, max_size=3), "max_drop": shares, "fidelity": shares,
        "device": mostly(st.sampled_from(["cpu", "cuda", "cuda:1", "auto", "mps"]),
                         st.sampled_from(["gpu", "cuda:x", "", "CPU", "cuda:-1"])),
        "threads": counts,
    })
indicators = st.fixed_dictionaries({}, optional={
    "f1_max": positives, "d_max": positives, "ref_point": st.lists(positives, min_size=2, max_size=2)})
WILD_VALUES = [math.nan, math.inf, -math.inf, -1, 0, 1e9, 10**12, "../x", "a/b", "..", "gpu", "",
               [], {}]
wild = st.sampled_from(WILD_VALUES)
WILD_PATHS = [("name",), ("budget",), ("seeds",), ("max_requested",), ("max_drop",), ("fidelity",),
              ("device",), ("threads",), ("drops", 0), ("indicator", "f1_max"),
              ("indicator", "d_max"), ("indicator", "ref_point", 0), ("optimizers", 0, "pop_size"),
              ("optimizers", 0, "label"), ("merges", 0, "tolerance"), ("tasks", 0, "label")]
VALID = {"name": "t", "tasks": [{"name": "digits-mlp"}], "budget": 10, "seeds": 2,
         "max_requested": 20, "max_drop": 0.01, "fidelity": 1.0, "device": "cpu", "threads": 1,
         "drops": [0.01], "indicator": {"f1_max": 1.0, "d_max": 1024, "ref_point": [1.0, 1.0]},
         "optimizers": [{"name": "nsga2", "pop_size": 4}], "merges": [{"name": "neighbor"}]}


def one_wild(path: tuple, value) -> dict:
    """A valid file with one value replaced."""
    data = json.loads(json.dumps(VALID))
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return data


experiments = st.one_of(
    st.tuples(experiments, indicators).map(lambda e: {**e[0], "indicator": e[1]}),
    st.tuples(st.sampled_from(WILD_PATHS), wild).map(lambda e: one_wild(*e)))


def check_plan(exp: Experiment) -> None:
    assert FILE_NAME.fullmatch(exp.name) and len(exp.name) <= validate.MAX_NAME
    assert 0 < len(exp.seeds) <= validate.MAX_SEEDS and len(set(exp.seeds)) == len(exp.seeds)
    assert all(0 <= s <= validate.MAX_SEED for s in exp.seeds)
    assert 1 <= exp.budget <= validate.MAX_EVALUATIONS
    assert exp.max_requested is None or exp.budget <= exp.max_requested <= validate.MAX_EVALUATIONS
    assert all(math.isfinite(d) and 0 <= d < 1 for d in (*exp.drops, exp.max_drop))
    assert math.isfinite(exp.fidelity) and 0 < exp.fidelity <= 1
    assert exp.device is None or exp.device in ("cpu", "cuda", "cuda:1", "auto", "mps")
    for ref in exp.reference.values():
        assert 0 < ref.f1_max <= 1 and math.isfinite(ref.d_max) and ref.d_max >= 2
        assert all(math.isfinite(v) and v > 0 for v in ref.ref_point)
    assert all(spec.options.get("pop_size", 0) <= validate.MAX_POPULATION for spec in exp.optimizers)
    json.dumps(exp.as_dict(), allow_nan=False)  # nothing non-finite reaches a record
    trials = exp.trials()
    assert len(trials) <= validate.MAX_TRIALS and len({t.key for t in trials}) == len(trials)
    for t in trials:
        assert FILE_NAME.fullmatch(t.id) and len(t.id) + len(".json") <= 255, t.id
    again = Experiment.from_dict(json.loads(json.dumps(exp.as_dict())))
    assert [t.key for t in again.trials()] == [t.key for t in trials]


def accepted_is_valid(path, data: dict) -> None:
    """The property: the file is refused with one ConfigError line, or its plan is valid."""
    path.write_text(toml_text(data))
    try:
        exp = load_experiment(path)
    except ConfigError as exc:
        msg = str(exc)
        assert msg.startswith(f"{path}: ") and "\n" not in msg
        return
    check_plan(exp)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=experiments)
def test_any_accepted_experiment_file_is_a_valid_plan(tmp_path, data):
    accepted_is_valid(tmp_path / "e.toml", data)


def test_each_wild_value_alone_is_refused_or_a_valid_plan(tmp_path):
    """The same property, exhaustively over one wild value in an otherwise valid file (random
    draws reach a given pair only now and then)."""
    accepted_is_valid(tmp_path / "e.toml", VALID)
    for where in WILD_PATHS:
        for value in WILD_VALUES:
            accepted_is_valid(tmp_path / "e.toml", one_wild(where, value))
