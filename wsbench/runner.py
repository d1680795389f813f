"""Run an experiment: every trial once, each written atomically to ``trials/<trial-id>.json``.

Results folder::

    experiment.toml   the file as given          experiment.json  the validated config
    reference.json    indicator normalisation    run.json         provenance of the last run
    runs/<time>.json  provenance of every finished run (versions, git commit, machine, wall time)
    exact/<id>.json   exact fronts (exhaustive over the whole space, once per task/space/quantizer)
    trials/<id>.json  one record per trial: status, every evaluation, front, merged front, times
    locks/<key>.lock  held (flock) by the process running that trial, removed when it is done

The harness (trained model, data, quantizer, space) is built once per (task, space, quantizer)
and reused; each trial gets a fresh decision cache and archive, so its budget and counts are its
own unique evaluations and its wall time includes every evaluation it caused. A trial whose file
says ``"status": "ok"`` is found by its key (hash of its full config) and not run again.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from wsbench.cache import atomic_write_bytes, content_key
from wsbench.claims import Claims
from wsbench.errors import ConfigError
from wsbench.experiment import Experiment, Trial
from wsbench.provenance import run_info

RECORD_FORMAT = 1


@dataclass
class RunSummary:
    out: Path
    total: int
    already_done: int = 0
    ran: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (trial id, reason)
    failed: list[tuple[str, str]] = field(default_factory=list)
    evaluations: int = 0  # unique search evaluations done by this run (exact fronts included)
    seconds: float = 0.0
    # finished trials in the folder that this experiment does not list: kept, but a report of
    # the folder (which follows the experiment run last) leaves them out
    other_trials: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)  # written by another process meanwhile
    taken: list[str] = field(default_factory=list)  # still held by another process at the end


def write_json(path: Path, data: Any, compact: bool = False) -> None:
    """JSON, written atomically (a temp file then os.replace); ``compact`` for big records."""
    text = (json.dumps(data, separators=(",", ":"), default=_jsonable) if compact
            else json.dumps(data, indent=1, default=_jsonable))
    atomic_write_bytes(path, (text + "\n").encode())


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


def read_json(path: Path) -> Any | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def finished_records(out: Path) -> dict[str, dict]:
    """The records of the trials under ``out/trials`` that finished (status ok), by key."""
    records = {}
    for path in sorted((out / "trials").glob("*.json")):
        rec = read_json(path)
        if isinstance(rec, dict) and rec.get("status") == "ok" and rec.get("key"):
            records[rec["key"]] = rec
    return records


def other_trial_ids(records: dict[str, dict], trials: Iterable[Trial]) -> list[str]:
    """Ids of the records (by key) that none of ``trials`` makes: another config's, same folder."""
    listed = {t.key for t in trials}
    return sorted(r.get("id", k) for k, r in records.items() if k not in listed)


def finished_keys(out: Path) -> set[str]:
    """Keys of the trials under ``out/trials`` that finished (status ok)."""
    return set(finished_records(out))


def exact_key(exp: Experiment, trial: Trial) -> str:
    """Everything the exact front's objectives depend on, screening included: a screened search
    is measured against the front of the same screened objectives, never an fp32 one."""
    return content_key(format=RECORD_FORMAT, task=trial.task.identity(), space=trial.space.identity(),
                       quantizer=trial.quantizer.identity(), metric=exp.metric, include=exp.include,
                       **trial.screening())


def exact_path(out: Path, exp: Experiment, trial: Trial) -> Path:
    stem = "__".join([trial.task.label, trial.space.label, trial.quantizer.label, exact_key(exp, trial)])
    return out / "exact" / (re.sub(r"[^A-Za-z0-9._-]+", "-", stem) + ".json")


def run_experiment(exp: Experiment, out: str | Path | None = None, progress: bool = True,
                   log: Callable[[str], None] | None = None) -> RunSummary:
    """Run every unfinished trial of ``exp`` and write it to ``out`` (default results/<name>).

    Other processes may run the same folder: each trial is locked while it runs
    (:mod:`wsbench.claims`); trials they hold are waited for at the end, and run here only if
    they stopped first."""
    from tqdm.auto import tqdm

    from wsbench.groups import GroupRunner

    out = Path(out) if out is not None else Path("results") / exp.name
    (out / "trials").mkdir(parents=True, exist_ok=True)
    trials = exp.trials()
    claims = Claims(out)  # before reading the records: what changes after is another's
    finished = finished_records(out)
    todo = [t for t in trials if t.key not in finished]
    summary = RunSummary(out, len(trials), already_done=len(trials) - len(todo),
                         other_trials=other_trial_ids(finished, trials))
    say = log or (tqdm.write if progress else print)
    start = time.perf_counter()
    with _threads(exp.threads), tqdm(total=len(trials), initial=summary.already_done, unit="trial",
                                     desc=exp.name, disable=not progress, position=0) as bar:
        _write_header(exp, out, summary)
        run = GroupRunner(exp, out, set(finished), finished, summary, bar, say, progress, claims)
        run.groups(todo if not exp.exact_enabled else trials)
        if claims.taken:
            say(f"{len(claims.taken)} trial(s) taken by another process: waiting for them")
            run.groups(claims.wait_for_taken())
        summary.taken = [t.id for t in claims.taken]
        summary.elsewhere = list(claims.elsewhere)
        summary.seconds = time.perf_counter() - start
        _write_header(exp, out, summary, finished=True)
    return summary


def _check_same_model(out: Path, finished: Iterable[dict], trial: Trial, model: str) -> None:
    """Refuse to mix trials of one task scored on different trained weights in one folder."""
    task = trial.config()["task"]
    for rec in finished:
        if rec.get("trial", {}).get("task") == task and rec.get("model", model) != model:
            raise ConfigError(
                f"{out}: its trials of task {trial.task.label} were run on other trained weights "
                f"(model {rec['model']}, now {model}: a new checkpoint?); "
                f"write to a new folder with --out, or move {out / 'trials'} away")


def _last_of_task(groups: dict, group: list[Trial]) -> bool:
    keys = list(groups)
    later = keys[keys.index(group[0].harness_key) + 1:]
    return all(groups[k][0].task.label != group[0].task.label for k in later)


class _threads:
    """Set torch's intra-op threads for the run (one thread is much faster on a loaded machine)."""

    def __init__(self, n: int | None) -> None:
        self.n, self.old = n, None

    def __enter__(self) -> "_threads":
        if self.n:
            import torch

            self.old = torch.get_num_threads()
            torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.old:
            import torch

            torch.set_num_threads(self.old)


def _write_header(exp: Experiment, out: Path, summary: RunSummary, finished: bool = False) -> None:
    if not finished:
        if exp.source:
            atomic_write_bytes(out / "experiment.toml", exp.source.encode())
        write_json(out / "experiment.json", exp.as_dict())
        write_json(out / "reference.json", {
            "doc": "Indicators use z = normalised objectives and this fixed reference point per task; "
                   "never derived from the fronts measured.",
            "tasks": {k: v.as_dict() for k, v in exp.reference.items()}})
    info = run_info(exp.as_dict(), exp.seeds[0])
    if finished:  # keep when this run started; add when it ended
        info["finished"] = info["started"]
        info["started"] = (read_json(out / "run.json") or {}).get("started", info["started"])
    info.update(seeds=exp.seeds, status="finished" if finished else "running",
                trials={"total": summary.total, "already_done": summary.already_done,
                        "ran": summary.ran, "skipped": len(summary.skipped),
                        "failed": len(summary.failed), "by_another_process": len(summary.elsewhere),
                        "taken": len(summary.taken)},
                unique_evaluations=summary.evaluations, seconds=summary.seconds)
    write_json(out / "run.json", info)
    if finished:  # every run's provenance is kept; run.json is the latest
        stamp = info["started"].replace(":", "").replace("+0000", "Z")
        write_json(out / "runs" / f"{stamp}-{os.getpid()}-{uuid.uuid4().hex[:6]}.json", info)


def _harness(exp: Experiment, trial: Trial, data_cache: dict, progress: bool):
    from wsbench.pipeline import build_harness

    cfg = compress_config(exp, trial)
    if trial.task.label not in data_cache:
        data_cache[trial.task.label] = trial.task.create().load(progress=progress)
    return build_harness(cfg, progress, data=data_cache[trial.task.label])


def compress_config(exp: Experiment, trial: Trial):
    """The :class:`~wsbench.pipeline.CompressConfig` equivalent of one trial."""
    from wsbench.pipeline import CompressConfig

    return CompressConfig(
        task=trial.task.name, optimizer=trial.optimizer.name, quantizer=trial.quantizer.name,
        merge=trial.merge.name, space=trial.space.name, seed=trial.seed, budget=trial.budget,
        max_requested=trial.max_requested, metric=trial.metric, max_drop=trial.max_drop,
        include=trial.include, device=exp.device, task_options=dict(trial.task.options),
        optimizer_options=dict(trial.optimizer.options),
        quantizer_options=dict(trial.quantizer.options), merge_options=dict(trial.merge.options),
        space_options=dict(trial.space.options), fidelity=trial.fidelity,
        screen_dtype=trial.screen_dtype, fidelity_seed=trial.fidelity_seed,
        population_eval=trial.population_eval)


def _fail(out: Path, t: Trial, exc: BaseException, summary: RunSummary, say) -> None:
    msg = f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__
    summary.failed.append((t.id, msg))
    write_json(out / "trials" / f"{t.id}.json",
               {"format": RECORD_FORMAT, "key": t.key, "id": t.id, "status": "failed",
                "reason": msg, "trial": t.config()})
    say(f"FAILED {t.id}: {msg}")


def _search(h, optimizer, trial: Trial, budget: int, progress: bool, desc: str) -> float:
    from tqdm.auto import tqdm

    from wsbench.optimizer import drive

    t0 = time.perf_counter()
    with tqdm(total=int(min(budget, h.space_size)), desc=desc, unit="eval", leave=False,
              disable=not progress, position=1) as bar:
        drive(optimizer, h, budget=budget, seed=trial.seed, on_batch=bar.update,
              max_requested=trial.max_requested)
    return time.perf_counter() - t0


def _archive(h) -> dict[str, list]:
    a = h.archive
    return {"x": [list(e.x) for e in a], "f": [list(e.f) for e in a],
            "cached": [e.cached for e in a], "seconds": [e.seconds for e in a],
            "unique_index": [e.unique_index for e in a]}


def _exact(exp: Experiment, trial: Trial, h, out: Path, progress: bool, say) -> int:
    """Enumerate the whole space (when exhaustive accepts it) and write the exact front."""
    from wsbench import plugins

    path = exact_path(out, exp, trial)
    head = {"format": RECORD_FORMAT, "key": exact_key(exp, trial), "task": trial.task.as_dict(),
            "space": trial.space.as_dict(), "quantizer": trial.quantizer.as_dict(),
            "metric": exp.metric, "include": exp.include, "screening": trial.screening(),
            "model": h.view.fingerprint()}
    exhaustive = plugins.create("optimizer", "exhaustive", max_points=exp.exact_max_points)
    h.reset()
    reason = exhaustive.check(h)
    if reason:
        write_json(path, {**head, "status": "unavailable", "reason": reason})
        say(f"no exact front for {trial.task.label}/{trial.space.label}: {reason}")
        return 0
    size = int(h.space_size)
    exact_trial = Trial(trial.task, trial.space, trial.quantizer, trial.optimizer, trial.merge,
                        0, size, None, exp.metric, exp.include, 0.0, trial.fidelity, trial.screen_dtype)
    seconds = _search(h, exhaustive, exact_trial, size, progress,
                      f"exact front {trial.task.label}/{trial.space.label}/{trial.quantizer.label}")
    X, F = h.archive_arrays()
    FX, FF = h.front()
    write_json(path, {**head, "status": "ok", "points": size, "x": X.tolist(), "f": F.tolist(),
                      "front_x": FX.tolist(), "front_f": FF.tolist(), "seconds": seconds,
                      "provenance": run_info(head, 0)}, compact=True)
    h.view.restore()
    return h.unique


class MemoMerge:
    """A merge strategy whose results are remembered by quantization content.

    Trials of one harness often keep the same front members; the merge is deterministic
    post-processing (not part of the search being compared), so it is done once per distinct
    quantization. The evaluations and seconds reported are those of the first computation.
    Everything else the wrapped strategy declares (``name``, ``needs_holdout``, its options:
    the MergeStrategy contract) is read through from it, so a new declaration needs no copy here.
    """

    def __init__(self, merger: Any, memo: dict) -> None:
        self.merger, self.memo = merger, memo
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("merger", "memo", "seconds"):
            raise AttributeError(name)  # not delegated: copy/pickle probes, a half-built object
        return getattr(self.merger, name)

    def merge(self, q: Any, score: Any, **scorers: Any) -> Any:
        digest = q.digest()
        if digest not in self.memo:
            t0 = time.perf_counter()
            result = self.merger.merge(q, score, **scorers)
            self.memo[digest] = (result, time.perf_counter() - t0)
        result, seconds = self.memo[digest]
        self.seconds += seconds
        return result


def _solution(s, before=None) -> dict[str, Any]:
    out = {"x": list(s.x), "k": s.k, "d": s.d, "val": s.val, "test": s.test,
           "bits_fixed": s.fixed.avg_bits, "bits_huffman": s.huffman.avg_bits,
           "cr_paper": s.huffman.cr_paper, "cr_file": s.huffman.cr_file,
           "cr_paper_fixed": s.fixed.cr_paper, "file_bytes": s.huffman.file_size,
           "bits_layer": s.layer.avg_bits, "cr_paper_layer": s.layer.cr_paper,
           "cr_file_layer": s.layer.cr_file}
    if before is not None:
        out["d_before"] = before.d
    return out


def _ub_solution(h, trial: Trial) -> dict[str, Any]:
    """The paper's "random UB" row: the harness's quantizer with K = 1024 on the pooled weights."""
    from wsbench.pipeline import score_solution

    q = h.quantizer.quantize(h.view.original, 1024)
    s = score_solution(h, trial.quantizer.name, "UB (K=1024)", h.xu, q)
    h.view.restore()
    return {**_solution(s), "k": 1024}


def run_trial(trial: Trial, h, baseline: dict[str, float], memo: dict, progress: bool = False
              ) -> dict[str, Any]:
    """Search, then merge the chosen front and re-score it; the trial's record (not written)."""
    from wsbench.pipeline import choose_front, merge_front, score_solution

    head = {"format": RECORD_FORMAT, "key": trial.key, "id": trial.id, "trial": trial.config()}
    optimizer = trial.optimizer.create()
    merger = MemoMerge(trial.merge.create(), memo.setdefault(content_key(**trial.merge.identity()), {}))
    h.reset()
    reason = optimizer.check(h)
    if reason:
        return {**head, "status": "skipped", "reason": reason}
    t0 = time.perf_counter()
    search = _search(h, optimizer, trial, trial.budget, progress,
                     f"{trial.optimizer.label} s{trial.seed}")
    t1 = time.perf_counter()
    chosen = choose_front(h, baseline["val"], trial.max_drop) if h.unique else []
    front = [score_solution(h, trial.quantizer.name, "front", x, h.quantization(x)) for x in chosen]
    merged, merge_evals = merge_front(h, front, merger, trial.quantizer.name)
    h.view.restore()
    t2 = time.perf_counter()
    return {
        **head, "status": "ok", "baseline": baseline,
        "n_shared": h.view.numel, "original_bytes": front[0].huffman.original_bytes if front else None,
        "requested": h.requested, "unique": h.unique, "archive": _archive(h),
        "front": [_solution(s) for s in front],
        "merged": [_solution(m, before=s) for s, m in zip(front, merged)],
        "merge_evaluations": merge_evals,
        "seconds": {"search": search, "evaluations": float(sum(e.seconds for e in h.archive)),
                    "rescore_and_merge": t2 - t1, "merge_first_computed": merger.seconds,
                    "total": t2 - t0},
        "provenance": run_info(trial.config(), trial.seed),
    }
