"""One settings declaration (wsbench.settings) drives experiment files and ``wsbench compress``:
every setting is offered by both, refused the same way by both, and reaches the harness."""

from __future__ import annotations

from dataclasses import fields

import pytest
from test_validate import toml_text

from wsbench import settings
from wsbench.cli import build_parser, main
from wsbench.errors import ConfigError
from wsbench.experiments.experiment import LISTS, TRIAL_FORMAT, Experiment, load_experiment, parse_experiment
from wsbench.files.cache import content_key

BASE = {"name": "t", "tasks": ["digits-mlp"], "optimizers": ["nsga2"], "budget": 10}
# settings that make sense for one command only; any other new setting must be offered by both
RUN_ONLY = {"drops", "threads", "exact_enabled", "exact_max_points",  # grid reports, run's threads
            "executor", "scheduler", "workers"}  # where an experiment's trials run
COMPRESS_ONLY = {"coding"}  # `wsbench run` writes no compressed files
ALL = fields(settings.RunSettings)


def sample(f) -> object:
    """A valid value other than the default, derived from the field's metadata."""
    s = settings.spec(f)
    if f.name == "executor":  # a plugin name: the registry's, not declared choices
        return "process"
    if s.choices:
        return next(c for c in s.choices if c != f.default)
    if s.kind is bool:
        return not f.default
    if s.kind is list:
        return [0.02]
    if s.kind is int:
        return (f.default or 1) + 1
    return 0.5 if s.kind is float else "cpu"


def with_setting(f, value) -> dict:
    table, _, key = settings.toml_key(f).rpartition(".")
    return {**BASE, **({table: {key: value}} if table else {key: value})}


def cli_error(capsys, tmp_path, argv: list[str]) -> str:
    assert main(["compress", *argv, "--out", str(tmp_path / "res")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wsbench: error: ") and err.count("\n") == 1, err
    return err.strip().removeprefix("wsbench: error: ")


def test_every_setting_is_offered_by_both_front_ends_unless_declared_one_sided():
    for f in ALL:
        expected = {settings.RUN} if f.name in RUN_ONLY else (
            {settings.COMPRESS} if f.name in COMPRESS_ONLY else set(settings.BOTH))
        assert set(settings.spec(f).commands) == expected, f.name


@pytest.mark.parametrize("f", [f for f in ALL if settings.RUN in settings.spec(f).commands],
                         ids=lambda f: f.name)
def test_the_experiment_parser_accepts_each_run_setting(f):
    value = sample(f)
    exp = parse_experiment(with_setting(f, value))
    assert getattr(exp, f.name) == (tuple(value) if isinstance(value, list) else value)


@pytest.mark.parametrize("f", [f for f in ALL if settings.COMPRESS in settings.spec(f).commands],
                         ids=lambda f: f.name)
def test_the_compress_cli_accepts_each_compress_setting(f):
    value = sample(f)
    args = build_parser().parse_args(["compress", settings.flag(f), str(value)])
    assert getattr(args, f.name) == value
    assert getattr(build_parser().parse_args(["compress"]), f.name) == f.default


def test_compress_help_documents_every_compress_setting(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["compress", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for f in settings.settings_fields(settings.COMPRESS):
        assert settings.flag(f) in text and settings.spec(f).help in text, f.name


def test_compress_flags_reach_its_config(capsys, tmp_path, monkeypatch):
    import wsbench.experiments.compress_run

    seen = []

    def stop(cfg, progress=True):
        seen.append(cfg)
        raise ConfigError("stop")

    monkeypatch.setattr(wsbench.experiments.compress_run, "run_compress", stop)
    cli_error(capsys, tmp_path, ["--fidelity", "0.5", "--fidelity-seed", "7",
                                 "--population-eval", "loop", "--no-progress"])
    cfg = seen[0]
    assert (cfg.fidelity, cfg.fidelity_seed, cfg.population_eval) == (0.5, 7, "loop")
    assert all(getattr(cfg, f.name) == getattr(settings.DEFAULTS, f.name)
               for f in settings.settings_fields(settings.COMPRESS)
               if f.name not in ("fidelity", "fidelity_seed", "population_eval"))


@pytest.mark.parametrize("f", [f for f in ALL if settings.spec(f).choices], ids=lambda f: f.name)
def test_a_bad_choice_is_the_same_one_line_error_from_a_file_and_a_flag(f, capsys, tmp_path):
    sides = settings.spec(f).commands
    messages = []
    if settings.RUN in sides:
        with pytest.raises(ConfigError) as err:
            parse_experiment(with_setting(f, "bogus"), source="f.toml")
        messages.append(str(err.value).removeprefix(f"f.toml: {settings.toml_key(f)}: "))
    if settings.COMPRESS in sides:
        msg = cli_error(capsys, tmp_path, [settings.flag(f), "bogus"])
        messages.append(msg.removeprefix(f"{settings.flag(f)}: "))
    assert "bogus" in messages[0] and len(set(messages)) == 1, messages


def test_the_choices_are_declared_once():
    from wsbench.experiments import compress_run
    from wsbench.search import fitness
    from wsbench.search.metrics import METRICS

    assert fitness.SCREEN_DTYPES is settings.SCREEN_DTYPES
    assert fitness.POPULATION_EVALS is settings.POPULATION_EVALS
    assert compress_run.FILE_CODINGS is settings.FILE_CODINGS
    assert settings.spec(next(f for f in ALL if f.name == "metric")).choices is METRICS


def test_population_eval_and_fidelity_seed_reach_the_harness_from_a_toml_file(tmp_path, monkeypatch):
    import wsbench.search.fitness
    from wsbench.experiments import runner

    path = tmp_path / "e.toml"
    path.write_text(toml_text({**BASE, "fidelity": 0.5, "fidelity_seed": 7,
                               "population_eval": "loop"}))
    exp = load_experiment(path)
    (trial,) = exp.trials()
    seen = {}

    def harness(data, quantizer, space, **kwargs):
        seen.update(kwargs)

    monkeypatch.setattr(wsbench.search.fitness, "FitnessHarness", harness)
    runner.harness(exp, trial, {trial.task.label: object()}, progress=False)
    assert (seen["fidelity"], seen["fidelity_seed"], seen["population_eval"]) == (0.5, 7, "loop")


def plain_key(t) -> str:
    """A trial's key computed from its config without the settings added later."""
    return content_key(format=TRIAL_FORMAT, **{k: getattr(t, k).identity() for k in LISTS.values()},
                       seed=t.seed, budget=t.budget, max_requested=t.max_requested,
                       metric=t.metric, include=t.include, max_drop=t.max_drop,
                       **({"fidelity": t.fidelity} if t.fidelity != 1.0 else {}))


@pytest.mark.parametrize("screening", [{}, {"fidelity": 0.5}])
def test_new_settings_at_their_defaults_leave_keys_and_records_unchanged(screening):
    given = parse_experiment({**BASE, **screening, "fidelity_seed": 0, "population_eval": "auto"})
    absent = parse_experiment({**BASE, **screening})
    for exp in (given, absent):
        (t,) = exp.trials()
        assert t.key == plain_key(t)
        assert "fidelity_seed" not in t.config() and "population_eval" not in t.config()
        assert "fidelity_seed" not in exp.as_dict() and "population_eval" not in exp.as_dict()
        assert Experiment.from_dict(exp.as_dict()).trials()[0].key == t.key


@pytest.mark.parametrize("change", [{"fidelity_seed": 3}, {"population_eval": "batched"}])
def test_new_settings_off_their_defaults_make_another_trial(change):
    exp = parse_experiment({**BASE, "fidelity": 0.5, **change})
    (t,) = exp.trials()
    (name, value), = change.items()
    assert t.key != plain_key(t) and t.screening()[name] == value and t.config()[name] == value
    assert exp.as_dict()[name] == value
    assert Experiment.from_dict(exp.as_dict()).trials()[0].key == t.key
