"""Typed records and the results store: what ``wsbench run`` writes reads back to the same JSON."""

from __future__ import annotations

import json
import math

import pytest

from wsbench.errors import ConfigError
from wsbench.experiments.experiment import parse_experiment
from wsbench.experiments.records import RECORD_FORMAT, CodedSize, Coding, ExactRecord, Solution, TrialRecord
from wsbench.experiments.runner import run_experiment
from wsbench.experiments.store import ResultsStore, read_json, write_json

# a tiny real run: one searched trial per merge, one skipped per merge (the space is over
# exhaustive's cap), merges none and neighbor, and an exact front
CONFIG = {"name": "rec", "tasks": ["digits-mlp"], "spaces": [{"name": "k", "k_max": 12}],
          "optimizers": ["random", {"name": "exhaustive", "max_points": 5}],
          "merges": ["none", "neighbor"], "seeds": [0], "budget": 6, "max_requested": 60,
          "max_drop": 0.05, "threads": 1, "device": "cpu"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("rec") / "results"
    run_experiment(parse_experiment(CONFIG, source="rec.toml"), out, progress=False, log=lambda m: None)
    return out


def _files(folder, sub):
    return sorted((folder / sub).glob("*.json"))


def test_records_of_a_real_run_read_back_to_the_same_bytes(folder):
    statuses = set()
    for path in _files(folder, "trials"):
        data = json.loads(path.read_text())
        rec = TrialRecord.from_dict(data)
        statuses.add(rec.status)
        assert rec.to_dict() == data
        # the same key order and format as written: the file is exactly what to_dict writes
        assert path.read_text() == json.dumps(rec.to_dict(), separators=(",", ":")) + "\n"
        assert TrialRecord.from_dict(rec.to_dict()) == rec
    assert statuses == {"ok", "skipped"}
    (path,) = _files(folder, "exact")
    data = json.loads(path.read_text())
    exact = ExactRecord.from_dict(data)
    assert exact.ok and exact.to_dict() == data and exact.points == 11
    assert path.read_text() == json.dumps(data, separators=(",", ":")) + "\n"


def test_a_failure_record_round_trips_and_is_indented(tmp_path, folder):
    store = ResultsStore(tmp_path)
    trial = parse_experiment(CONFIG).trials()[0]
    msg = store.write_failure(trial, RuntimeError("it broke\nsecond line"))
    assert msg == "RuntimeError: it broke"
    text = store.trial_path(trial.id).read_text()
    assert text.startswith('{\n "format": 1,') and '"status": "failed"' in text
    rec = TrialRecord.from_dict(json.loads(text))
    assert (rec.status, rec.reason, rec.trial) == ("failed", msg, trial.config())
    assert list(rec.to_dict()) == ["format", "key", "id", "status", "reason", "trial"]
    assert store.finished() == {} and set(store.records()) == {trial.key}


def test_a_newer_record_format_is_refused_in_one_line(folder, tmp_path, capsys):
    data = json.loads(_files(folder, "trials")[0].read_text())
    for cls, rec in ((TrialRecord, data), (ExactRecord, json.loads(_files(folder, "exact")[0].read_text()))):
        with pytest.raises(ConfigError) as err:
            cls.from_dict({**rec, "format": RECORD_FORMAT + 1})
        assert f"format {RECORD_FORMAT + 1}" in str(err.value) and "\n" not in str(err.value)
    # through the store and the report: one error line naming the file and the version
    import shutil

    from wsbench.cli import main

    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    path = _files(copy, "trials")[0]
    path.write_text(json.dumps({**data, "format": 99}))
    with pytest.raises(ConfigError, match="format 99"):
        ResultsStore(copy).records()
    assert main(["report", str(copy), "--no-figures", "--format", "markdown"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and path.name in err and "format 99" in err


def test_records_without_later_keys_still_read(folder):
    """Records written before the per-tensor and adaptive codings, the UB row and the model
    fingerprint."""
    data = json.loads(next(p for p in _files(folder, "trials") if '"status":"ok"' in p.read_text()).read_text())
    later = ("bits_layer", "cr_paper_layer", "cr_file_layer",
             "bits_adaptive", "cr_paper_adaptive", "cr_file_adaptive")
    old = {k: v for k, v in data.items() if k not in ("ub", "model")}
    old["front"] = [{k: v for k, v in s.items() if k not in later} for s in data["front"]]
    old["merged"] = [{k: v for k, v in s.items() if k not in later} for s in data["merged"]]
    rec = TrialRecord.from_dict(old)
    assert rec.ub is None and rec.model is None and rec.merged
    assert not any(s.has(Coding.LAYER) or s.has(Coding.ADAPTIVE) for s in rec.merged)
    assert rec.to_dict() == old  # nothing invented on the way back


def test_the_coding_enum_owns_the_record_keys():
    assert [c.value for c in Coding] == ["fixed", "huffman", "huffman-layer", "adaptive", "native"]
    assert [(c.bits_key, c.cr_paper_key, c.cr_file_key) for c in Coding] == [
        ("bits_fixed", "cr_paper_fixed", None), ("bits_huffman", "cr_paper", "cr_file"),
        ("bits_layer", "cr_paper_layer", "cr_file_layer"),
        ("bits_adaptive", "cr_paper_adaptive", "cr_file_adaptive"),
        ("bits_native", "cr_paper_native", "cr_file_native")]
    sizes = {Coding.FIXED: CodedSize(4.0, 8.0), Coding.HUFFMAN: CodedSize(2.0, 16.0, 9.0),
             Coding.LAYER: CodedSize(1.9, 16.8, 9.5)}
    s = Solution([3.0], 3, 3, 0.9, 0.8, sizes, file_bytes=100)
    d = s.to_dict()
    assert d["cr_paper_layer"] == 16.8 and d["cr_paper_fixed"] == 8.0 and "cr_file_fixed" not in d
    assert s["cr_file_layer"] == 9.5 and s["x"] == [3.0] and s.cr_paper == 16.0
    assert Solution.from_dict(d) == s


def test_the_report_reads_each_coding_from_its_own_keys(folder):
    """Table I's rows, the paired coding table and the per-tensor indicator column each come
    from their own coding's keys in the files."""
    from wsbench.report.data import load_results
    from wsbench.report.paired import coding_table
    from wsbench.report.paper_table import paper_table

    res = load_results(folder)
    rows = {r[0].text: [c.text for c in r] for r in paper_table(res, "digits-mlp").rows}
    assert len(res.trials) == 2
    for t in res.trials:
        raw = json.loads(ResultsStore(folder).trial_path(t.trial.id).read_text())

        def span(key):
            lo, hi = (format(f(s[key] for s in raw["merged"]), ".2f") for f in (min, max))
            return lo if lo == hi else f"{lo}-{hi}"

        assert rows[f"+ merge [{t.config}]"][5:] == [span("bits_fixed"), span("cr_paper_fixed"), "-"]
        assert rows[f"+ Huffman [{t.config}]"][5:] == [span("bits_huffman"), span("cr_paper"),
                                                        span("cr_file")]
        assert rows[f"+ per-tensor Huffman [{t.config}]"][5:] == [
            span("bits_layer"), span("cr_paper_layer"), span("cr_file_layer")]
        assert rows[f"+ adaptive arithmetic [{t.config}]"][5:] == [
            span("bits_adaptive"), span("cr_paper_adaptive"), span("cr_file_adaptive")]
        test = raw["baseline"]["test"]
        best = max((s for s in raw["merged"] if test - s["test"] <= 0.005 + 1e-12),
                   key=lambda s: (s["cr_paper_layer"], s["cr_file_layer"]), default=None)
        value = t.indicators["cr_file_layer@test0.5"]
        assert (value == best["cr_file_layer"]) if best else math.isnan(value)
    table = coding_table(res, "digits-mlp")
    assert [(r[0].text, r[1].text) for r in table.rows] == [
        ("none", "per-tensor Huffman"), ("neighbor", "per-tensor Huffman"),
        ("none", "adaptive arithmetic"), ("neighbor", "adaptive arithmetic")]


def test_the_store_owns_the_layout_and_writes_atomically(tmp_path):
    store = ResultsStore(tmp_path)
    assert store.trial_path("a") == tmp_path / "trials" / "a.json"
    assert store.lock_path("k") == tmp_path / "locks" / "k.lock"
    assert store.claims().lock_path("k") == store.lock_path("k")  # claims use the store's layout
    write_json(tmp_path / "x.json", {"a": [1, 2]}, compact=True)
    write_json(tmp_path / "y.json", {"a": 1})
    assert (tmp_path / "x.json").read_text() == '{"a":[1,2]}\n'
    assert (tmp_path / "y.json").read_text() == '{\n "a": 1\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "y.json"]  # no temp file left
    (tmp_path / "z.json").write_text('{"half": ')
    assert read_json(tmp_path / "z.json") is None and store.read("missing.json") is None
    assert store.records() == {} and store.runs() == []
    (tmp_path / "trials").mkdir()
    (tmp_path / "trials" / "bad.json").write_text(json.dumps({"format": 1, "key": "k", "status": "ok"}))
    with pytest.raises(ConfigError, match="bad.json: record is incomplete or malformed"):
        store.records()


def test_a_staged_folder_is_published_whole_or_not_at_all(tmp_path):
    from wsbench.experiments.staging import write_staged

    def good(stage):
        stage.mkdir()
        (stage / "a.txt").write_text("a")

    first = write_staged(tmp_path, "run", good)
    second = write_staged(tmp_path, "run", good)  # the name is taken: a suffix, never a replace
    assert first == tmp_path / "run" and second.name.startswith("run-") and (second / "a.txt").exists()

    def bad(stage):
        good(stage)
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        write_staged(tmp_path, "broken", bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["run", second.name])
