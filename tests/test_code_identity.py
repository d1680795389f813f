"""A record made by other code is never reused silently: the trial's code identity, the rerun of
stale records, ``--keep-stale`` and the report's marks, and ``results.py --check`` on them."""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import textwrap

import pytest

from wsbench import plugins
from wsbench.experiments.code_identity import CodeIdentity, code_of, stale_reason
from wsbench.experiments.experiment import parse_experiment
from wsbench.experiments.runner import run_experiment

# An optimizer in a module of its own, as a third-party plugin would have it: K from the top of
# the space down, STEP at a time (the behaviour a test changes between two runs).
OPTIMIZER = '''
import numpy as np
import wsbench

STEP = {step}


class Down(wsbench.Optimizer):
    def setup(self, problem, seed, budget):
        self.k, self.lo = float(problem.xu[0]), float(problem.xl[0])

    def ask(self):
        if self.k < self.lo:
            return None
        x = np.array([[self.k]])
        self.k -= STEP
        return x

    def tell(self, X, F):
        pass


@wsbench.hookimpl
def wsbench_register_optimizers(register):
    register("{name}", Down, "test: K downwards")
'''


@pytest.fixture
def plugin_modules(tmp_path, monkeypatch):
    """Write, import and register optimizer modules from tmp_path; unregister them afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    loaded: dict[str, object] = {}

    def write(module: str, name: str, step: int):
        (tmp_path / f"{module}.py").write_text(OPTIMIZER.format(step=step, name=name))
        if module in loaded:
            plugins.unregister(name=module)
        sys.modules.pop(module, None)
        importlib.invalidate_caches()
        loaded[module] = importlib.import_module(module)
        plugins.register(loaded[module], name=module)
        return loaded[module]

    yield write
    for module in loaded:
        plugins.unregister(name=module)
        sys.modules.pop(module, None)


def _exp(optimizers, name="stale"):
    return parse_experiment({"name": name, "tasks": ["digits-mlp"], "spaces": [{"name": "k", "k_max": 20}],
                             "optimizers": optimizers, "merges": ["none"], "seeds": [0], "budget": 6,
                             "max_requested": 50, "threads": 1, "device": "cpu",
                             "exact": {"enabled": False}}, source="stale.toml")


def _archive_k(out, label):
    path = next((out / "trials").glob(f"*{label}*.json"))
    return [x[0] for x in json.loads(path.read_text())["archive"]["x"]]


def test_a_changed_optimizer_is_run_again_and_an_unchanged_one_is_not(tmp_path, plugin_modules):
    plugin_modules("t_code_down", "t-down", step=1)
    plugin_modules("t_code_other", "t-other", step=1)
    out, said = tmp_path / "res", []
    exp = _exp(["t-down", "t-other"])
    first = run_experiment(exp, out, progress=False, log=said.append)
    assert first.ran == 2 and not first.stale
    assert _archive_k(out, "t-down") == [20, 19, 18, 17, 16, 15]

    plugin_modules("t_code_down", "t-down", step=3)  # same name, same options: new behaviour
    second = run_experiment(_exp(["t-down", "t-other"]), out, progress=False, log=said.append)
    assert second.ran == 1 and second.already_done == 1  # t-other's record is still its code's
    assert list(second.stale.values()) == ["made by other code: t_code_down changed"]
    assert any("1 finished trial(s) made by other code will run again" in s for s in said)
    assert _archive_k(out, "t-down") == [20, 17, 14, 11, 8, 5]  # the new code's, not reused

    third = run_experiment(_exp(["t-down", "t-other"]), out, progress=False, log=said.append)
    assert third.ran == 0 and not third.stale  # the rerun's record is current


def test_keep_stale_keeps_the_record_and_the_report_marks_its_rows(tmp_path, plugin_modules):
    from wsbench.report.build import build_document
    from wsbench.report.data import STALE_MARK, load_results

    plugin_modules("t_code_keep", "t-keep", step=1)
    plugin_modules("t_code_fine", "t-fine", step=2)
    out = tmp_path / "res"
    run_experiment(_exp(["t-keep", "t-fine"]), out, progress=False, log=lambda m: None)
    assert not load_results(out).stale

    plugin_modules("t_code_keep", "t-keep", step=4)
    kept = run_experiment(_exp(["t-keep", "t-fine"]), out, progress=False, log=lambda m: None,
                          keep_stale=True)
    assert kept.ran == 0 and len(kept.stale) == 1 and kept.kept_stale
    assert _archive_k(out, "t-keep") == [20, 19, 18, 17, 16, 15]  # the old record, kept

    res = load_results(out)
    assert res.configs == ["t-keep" + STALE_MARK, "t-fine"]
    [(trial_id, why)] = res.stale.items()
    assert "t-keep" in trial_id and why == "made by other code: t_code_keep changed"
    doc = build_document(res, out, {}, None)
    notes = [p for s in doc.sections for p in s.paragraphs if "made by other code" in p]
    assert len(notes) == 1 and "t_code_keep changed" in notes[0]


def test_results_check_fails_on_a_table_whose_records_are_stale(tmp_path, plugin_modules, monkeypatch,
                                                                 capsys):
    """The mechanism end to end, as CI runs it: a table is written, the code changes, --check fails
    naming the block; regenerating reruns the trial and the check passes."""
    from test_results_script import _script

    rs = _script()
    plugin_modules("t_code_table", "t-table", step=1)
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "tiny.toml").write_text(textwrap.dedent('''
        name = "tiny"
        tasks = ["digits-mlp"]
        spaces = [{ name = "k", k_max = 20 }]
        optimizers = ["t-table"]
        merges = ["none"]
        seeds = [0]
        budget = 6
        max_requested = 50
        threads = 1
        device = "cpu"
        [exact]
        enabled = false
        '''))
    md = tmp_path / "RESULTS.md"
    md.write_text("<!-- wsbench:table tiny-search -->\nx\n<!-- /wsbench:table -->\n")
    monkeypatch.setattr(rs, "ROOT", tmp_path)
    monkeypatch.setattr(rs, "BLOCKS", (rs.Block("tiny-search", "tiny.toml", "search-{task}", "tiny",
                                                ("configuration", "HV", "unique / requested")),))
    args = ["--only", "tiny", "--results-md", str(md), "--no-progress"]
    assert rs.main(args) == 0 and rs.main(["--check", *args]) == 0
    capsys.readouterr()

    plugin_modules("t_code_table", "t-table", step=5)
    assert rs.main(["--check", *args]) == 1
    out = capsys.readouterr().out
    assert "stale: tiny-search: 1 record(s) made by other code (1 made by other code: t_code_table changed)" in out
    assert "0 of 1 tables reproduce" in out

    assert rs.main(args) == 0  # regenerating reruns the stale trial
    assert rs.main(["--check", *args]) == 0
    assert _archive_k(tmp_path / "results" / "tiny", "t-table") == [20, 15, 10, 5]


def test_code_of_follows_first_party_imports_only_and_sees_edits(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    pkg = tmp_path / "tcodepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("import json\nfrom . import b\n\ndef f():\n    import numpy\n    from .sub import c\n")
    (pkg / "b.py").write_text("X = 1\n")
    (pkg / "sub").mkdir()
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("from ..b import X\n")
    (pkg / "unused.py").write_text("Y = 2\n")
    importlib.invalidate_caches()
    try:
        ident = code_of(["tcodepkg.a"])
        assert set(ident.modules) == {"tcodepkg", "tcodepkg.a", "tcodepkg.b", "tcodepkg.sub",
                                      "tcodepkg.sub.c"}
        import numpy

        assert ident.libraries == {"numpy": numpy.__version__}  # json is the standard library's
        (pkg / "unused.py").write_text("Y = 3\n")
        assert code_of(["tcodepkg.a"]).fingerprint == ident.fingerprint
        (pkg / "sub" / "c.py").write_text("from ..b import X\nZ = X + 1\n")
        changed = code_of(["tcodepkg.a"])
        assert changed.fingerprint != ident.fingerprint
        assert stale_reason(ident.to_dict(), changed) == "made by other code: tcodepkg.sub.c changed"
        assert stale_reason(changed.to_dict(), changed) is None
    finally:
        for name in [m for m in sys.modules if m.startswith("tcodepkg")]:
            sys.modules.pop(name)


def test_stale_reasons_name_libraries_and_records_without_code():
    new = CodeIdentity({"m": "1"}, {"torch": "2.14.1"})
    old = CodeIdentity({"m": "1", "gone": "2"}, {"torch": "2.13.0"})
    assert stale_reason(None, new) == "made before records kept their code"
    assert stale_reason(old.to_dict(), new) == "made by other code: gone no longer used, torch 2.13.0 -> 2.14.1"
    assert stale_reason(new.to_dict(), new) is None
    # the same code on a CPU whose SIMD kernels order numpy's sorts differently
    other_cpu = CodeIdentity({"m": "1"}, {"torch": "2.14.1"}, {"machine": "x86_64", "numpy_simd": "AVX2"})
    here = CodeIdentity({"m": "1"}, {"torch": "2.14.1"}, {"machine": "x86_64", "numpy_simd": "AVX512_SKX"})
    assert stale_reason(other_cpu.to_dict(), here) == "made by other code: numpy_simd AVX2 -> AVX512_SKX"


def test_the_platform_names_the_simd_level_numpy_dispatches_to():
    """A process with numpy's AVX-512 kernels switched off is an AVX2 machine to the identity."""
    import os
    import subprocess

    features = ("AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR "
                "AVX512_KNL AVX512_KNM")
    code = "from wsbench.experiments.code_identity import platform; print(platform()['numpy_simd'])"
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": features}
    here = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip()
    if not here.startswith("AVX512"):
        pytest.skip(f"this CPU has no AVX-512 for numpy to switch off (numpy dispatches to {here})")
    off = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert off.stdout.strip() == "AVX2", off.stderr


def test_the_built_in_pipeline_identity_covers_the_harness_and_not_the_report():
    from wsbench.experiments.code_identity import trial_code

    trial = _exp(["nsga2"]).trials()[0]
    ident = trial_code(trial)
    assert {"wsbench.search.fitness", "wsbench.experiments.trial", "wsbench_plugins.optimizers",
            "wsbench_plugins.digits", "wsbench_plugins.quantizers"} <= set(ident.modules)
    assert not any(m.startswith(("wsbench.report", "wsbench.commands")) for m in ident.modules)
    assert "wsbench_plugins.optimizers_frontier" not in ident.modules  # another optimizer's module
    assert {"torch", "numpy", "pymoo"} <= set(ident.libraries)
    assert set(ident.platform) == {"machine", "numpy_simd"}


def test_a_module_edited_while_loaded_keeps_the_identity_of_the_code_in_memory(tmp_path, plugin_modules):
    from wsbench.experiments.code_identity import trial_code

    plugin_modules("t_code_pinned", "t-pinned", step=1)
    trial = _exp(["t-pinned"]).trials()[0]
    before = trial_code(trial)
    # edited on disk while this process still runs the old code: records keep saying the old code
    (tmp_path / "t_code_pinned.py").write_text(OPTIMIZER.format(step=7, name="t-pinned") + "\n# edited\n")
    assert trial_code(trial).fingerprint == before.fingerprint
    plugin_modules("t_code_pinned", "t-pinned", step=7)  # imported again: the new code is in memory
    assert trial_code(trial).modules["t_code_pinned"] != before.modules["t_code_pinned"]


def test_the_registering_module_counts_with_the_factorys(tmp_path, monkeypatch):
    """A lambda or partial registered in one module binds options there; the class lives in another."""
    from wsbench.experiments.code_identity import plugin_modules

    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "t_code_impl.py").write_text(OPTIMIZER.format(step=1, name="t-unused-impl"))
    (tmp_path / "t_code_reg.py").write_text(
        "import functools\nimport wsbench\nfrom t_code_impl import Down\n\n"
        "@wsbench.hookimpl\ndef wsbench_register_optimizers(register):\n"
        "    register('t-bound', functools.partial(Down), 'test')\n")
    importlib.invalidate_caches()
    reg = importlib.import_module("t_code_reg")
    plugins.register(reg, name="t_code_reg")
    try:
        assert plugin_modules("optimizer", "t-bound") == ("t_code_impl", "t_code_reg")
    finally:
        plugins.unregister(name="t_code_reg")
        for m in ("t_code_reg", "t_code_impl"):
            sys.modules.pop(m, None)


def test_a_stale_exact_front_is_computed_again_and_a_stale_record_is_kept_aside(tmp_path, plugin_modules):
    import wsbench.experiments.code_identity as ci
    from wsbench.report.data import load_results

    plugin_modules("t_code_ex", "t-ex", step=1)
    exp = parse_experiment({"name": "ex", "tasks": ["digits-mlp"], "spaces": [{"name": "k", "k_max": 12}],
                            "optimizers": ["t-ex"], "merges": ["none"], "seeds": [0], "budget": 4,
                            "max_requested": 50, "threads": 1, "device": "cpu"}, source="ex.toml")
    out, said = tmp_path / "res", []
    run_experiment(exp, out, progress=False, log=said.append)
    exact = next((out / "exact").glob("*.json"))
    data = json.loads(exact.read_text())
    data["code"]["modules"]["wsbench.search.fitness"] = "0" * 16  # as if the harness had changed
    data["code"] = CodeIdentity.from_dict(data["code"]).to_dict()
    exact.write_text(json.dumps(data))
    trial_file = next((out / "trials").glob("*.json"))
    rec = json.loads(trial_file.read_text())
    rec["code"]["libraries"]["numpy"] = "0.0.1"  # as if made with another numpy
    rec["code"] = CodeIdentity.from_dict(rec["code"]).to_dict()
    trial_file.write_text(json.dumps(rec))

    stale = load_results(out).stale
    assert len(stale) == 2 and any(k.startswith("exact front") for k in stale)
    assert "numpy 0.0.1 -> " in "".join(stale.values())
    again = run_experiment(exp, out, progress=False, log=said.append)
    assert again.ran == 1 and again.evaluations == 11 + 4  # the exact front (11 K) and the trial
    assert any("exact front of digits-mlp/k(k_max=12)/uniform made by other code: wsbench.search.fitness changed" in s
               for s in said), said
    kept = json.loads((out / "stale" / trial_file.name).read_text())
    assert kept["code"]["libraries"]["numpy"] == "0.0.1"  # the old record, kept aside
    assert not load_results(out).stale
    assert ci.stale_reason(json.loads(exact.read_text())["code"], ci.exact_code(exp.trials()[0])) is None


def test_a_report_of_a_folder_whose_plugin_is_gone_says_so_instead_of_failing(tmp_path, plugin_modules):
    from wsbench.report.data import load_results

    plugin_modules("t_code_gone", "t-gone", step=1)
    out = tmp_path / "res"
    run_experiment(_exp(["t-gone"]), out, progress=False, log=lambda m: None)
    plugins.unregister(name="t_code_gone")
    try:
        [(name, why)] = load_results(out).stale.items()
    finally:
        plugins.register(sys.modules["t_code_gone"], name="t_code_gone")
    assert "t-gone" in name and why.startswith("its code cannot be checked here") and "t-gone" in why


def test_dry_run_lists_stale_trials(tmp_path, plugin_modules, capsys):
    from wsbench.cli import main

    plugin_modules("t_code_dry", "t-dry", step=1)
    toml = tmp_path / "dry.toml"
    toml.write_text('name = "dry"\ntasks = ["digits-mlp"]\nspaces = [{ name = "k", k_max = 20 }]\n'
                    'optimizers = ["t-dry"]\nmerges = ["none"]\nseeds = [0]\nbudget = 6\nmax_requested = 50\nthreads = 1\n'
                    'device = "cpu"\n[exact]\nenabled = false\n')
    out = tmp_path / "res"
    run_experiment(_exp(["t-dry"], name="dry"), out, progress=False, log=lambda m: None)
    plugin_modules("t_code_dry", "t-dry", step=2)
    assert main(["run", str(toml), "--out", str(out), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "stale  " in text and "(made by other code: t_code_dry changed)" in text
    assert "1 trials, 1 done (1 of them by other code: run again unless --keep-stale)" in text


def test_a_change_to_the_identitys_own_machinery_keeps_records_valid():
    """Fixing how code is hashed or the platform read must not make every record stale; a
    change to a module a trial computes with still does."""
    from wsbench.experiments.code_identity import MACHINERY

    made = CodeIdentity({"plugins.optimizers": "a", MACHINERY[0]: "1", MACHINERY[1]: "2"},
                        {"torch": "2.14.1"}, {"numpy_simd": "AVX2"})
    fixed = CodeIdentity({"plugins.optimizers": "a", MACHINERY[0]: "3", MACHINERY[1]: "4"},
                         {"torch": "2.14.1"}, {"numpy_simd": "AVX2"})
    assert made.fingerprint != fixed.fingerprint
    assert stale_reason(made.to_dict(), fixed) is None
    edited = CodeIdentity({**fixed.modules, "plugins.optimizers": "b"}, fixed.libraries, fixed.platform)
    assert stale_reason(made.to_dict(), edited) == "made by other code: plugins.optimizers changed"
    elsewhere = CodeIdentity(fixed.modules, fixed.libraries, {"numpy_simd": "AVX512_ICL"})
    assert stale_reason(made.to_dict(), elsewhere) == "made by other code: numpy_simd AVX2 -> AVX512_ICL"
