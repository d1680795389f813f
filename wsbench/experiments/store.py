"""One results folder of ``wsbench run``: its layout, atomic writes, locks and typed records.

Layout::

    experiment.toml   the file as given          experiment.json  the validated config
    reference.json    indicator normalisation    run.json         provenance of the last run
    runs/<time>.json  provenance of every finished run (versions, git commit, machine, wall time)
    exact/<id>.json   exact fronts (exhaustive over the whole space, once per task/space/quantizer)
    trials/<id>.json  one record per trial: status, every evaluation, front, merged front, times
    tracebacks/<id>.txt  the traceback of a failed trial (where it ran: this process or a worker)
    stale/<id>.json   a record made by other code, copied there before its trial ran again
    locks/<key>.lock  held (flock) by the process running that trial, removed when it is done

The runner writes through this class and the report reads through it, so neither knows file
names or JSON keys (records are :mod:`wsbench.experiments.records`). Every file is written atomically.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from wsbench.errors import ConfigError, WsbenchError
from wsbench.experiments.provenance import run_info
from wsbench.experiments.records import RECORD_FORMAT, ExactRecord, TrialRecord
from wsbench.experiments.staging import prepare_root  # noqa: F401 - the check before writing a results root
from wsbench.files.cache import atomic_write_bytes, content_key

if TYPE_CHECKING:
    from wsbench.experiments import locking
    from wsbench.experiments.claims import Claims
    from wsbench.experiments.experiment import Experiment, Trial

# what a results file edited by hand (a missing key, a string for a number) raises while read
MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError)


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
    """The file's JSON; None when it is missing or not JSON (a folder being written)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def exact_key(exp: "Experiment", trial: "Trial") -> str:
    """Everything the exact front's objectives depend on, screening included: a screened search
    is measured against the front of the same screened objectives, never an fp32 one."""
    return content_key(format=RECORD_FORMAT, task=trial.task.identity(), space=trial.space.identity(),
                       quantizer=trial.quantizer.identity(), metric=exp.metric, include=exp.include,
                       **trial.screening())


def exact_path(out: Path, exp: "Experiment", trial: "Trial") -> Path:
    """Where the exact front of ``trial``'s task/space/quantizer/screening is kept under ``out``."""
    stem = "__".join([trial.task.label, trial.space.label, trial.quantizer.label, exact_key(exp, trial)])
    return Path(out) / "exact" / (re.sub(r"[^A-Za-z0-9._-]+", "-", stem) + ".json")


def other_trial_ids(records: dict[str, TrialRecord], trials: Iterable["Trial"]) -> list[str]:
    """Ids of the records (by key) that none of ``trials`` makes: another config's, same folder."""
    listed = {t.key for t in trials}
    return sorted(r.id or k for k, r in records.items() if k not in listed)


def finished_keys(out: Path) -> set[str]:
    """Keys of the trials under ``out/trials`` that finished (status ok)."""
    return set(ResultsStore(out).finished())


class ResultsStore:
    """A results folder: where each file lives, and reading and writing its records."""

    def __init__(self, root: str | Path, keep_stale: bool = False) -> None:
        self.root = Path(root)
        # whether an exact front made by other code counts as there (``wsbench run --keep-stale``)
        self.keep_stale = keep_stale

    # layout
    def create(self) -> None:
        """Make the folder and ``trials/`` (claims look for records there from the start)."""
        (self.root / "trials").mkdir(parents=True, exist_ok=True)

    def trial_path(self, trial_id: str) -> Path:
        return self.root / "trials" / f"{trial_id}.json"

    def exact_path(self, exp: "Experiment", trial: "Trial") -> Path:
        return exact_path(self.root, exp, trial)

    def lock_path(self, key: str) -> Path:
        """The lock file of a trial (by key) or of another piece of work named ``key``."""
        return self.root / "locks" / f"{key}.lock"

    def claims(self) -> "Claims":
        """This folder's trial claims (:mod:`wsbench.experiments.claims`); made before reading records, so
        that what changes afterwards is known to be another process's."""
        from wsbench.experiments.claims import Claims

        return Claims(self.root)

    def lock_exact(self, exp: "Experiment", trial: "Trial") -> "locking.Lock | None":
        """The lock of the trial's exact front; None while another process computes it."""
        from wsbench.experiments import locking

        return locking.take(self.lock_path("exact-" + exact_key(exp, trial)))

    # reading
    def read(self, name: str) -> Any | None:
        """A top-level file's JSON (``experiment.json``, ``reference.json``, ``run.json``)."""
        return read_json(self.root / name)

    def runs(self) -> list[dict]:
        """The provenance of every finished run, oldest first."""
        return [r for r in map(read_json, sorted((self.root / "runs").glob("*.json"))) if r]

    def records(self) -> dict[str, TrialRecord]:
        """Every trial record in the folder (any status), by key; files that are not JSON (being
        written by an older wsbench) are passed over, a malformed record is one error line."""
        records = {}
        for path in sorted((self.root / "trials").glob("*.json")):
            data = read_json(path)
            if isinstance(data, dict) and data.get("key"):
                records[data["key"]] = _parsed(TrialRecord, data, path)
        return records

    def finished(self) -> dict[str, TrialRecord]:
        """The records of the trials that finished (status ok), by key."""
        return {k: r for k, r in self.records().items() if r.ok}

    def has_exact(self, exp: "Experiment", trial: "Trial") -> bool:
        """Whether the trial's exact front is here, made by the current code (or kept anyway)."""
        data = read_json(self.exact_path(exp, trial))
        if data is None:
            return False
        return self.keep_stale or self.exact_stale(exp, trial, data) is None

    def exact_stale(self, exp: "Experiment", trial: "Trial", data: Any = None) -> str | None:
        """Why the exact front here was not made by the current code; None if it was (or is absent)."""
        from wsbench.experiments.code_identity import exact_code, stale_reason

        data = data if data is not None else read_json(self.exact_path(exp, trial))
        if not isinstance(data, dict):
            return None
        try:
            return stale_reason(data.get("code"), exact_code(trial))
        except WsbenchError as exc:  # a plugin not installed here
            return f"its code cannot be checked here ({exc})"

    def keep_stale_copy(self, rec: TrialRecord) -> None:
        """Copy a record made by other code to ``stale/`` before its trial runs again, so that a
        rerun that fails or is skipped does not lose the only result."""
        write_json(self.root / "stale" / f"{rec.id}.json", rec.to_dict(), compact=True)

    def exact(self, exp: "Experiment", trial: "Trial") -> ExactRecord | None:
        path = self.exact_path(exp, trial)
        data = read_json(path)
        return _parsed(ExactRecord, data, path) if data is not None else None

    # writing
    def write_trial(self, rec: TrialRecord) -> None:
        """A trial's record; results compact (every evaluation is in it). A traceback left by
        an earlier failure of the trial goes once it has a new record."""
        write_json(self.trial_path(rec.id), rec.to_dict(), compact=rec.status != "failed")
        if rec.status != "failed":
            self.traceback_path(rec.id).unlink(missing_ok=True)

    def traceback_path(self, trial_id: str) -> Path:
        """Where a failed trial's traceback is kept (wherever the trial ran)."""
        return self.root / "tracebacks" / f"{trial_id}.txt"

    def write_failure(self, trial: "Trial", exc: BaseException | str,
                      traceback: str | None = None) -> str:
        """A failed trial's record and its traceback (``exc``'s, or ``traceback`` as a worker
        sent it); its reason (the exception's first line)."""
        if isinstance(exc, BaseException):
            import traceback as tb

            msg = f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__
            traceback = traceback or "".join(tb.format_exception(exc))
        else:
            msg = exc
        atomic_write_bytes(self.traceback_path(trial.id), (traceback or msg + "\n").encode())
        self.write_trial(TrialRecord(trial.key, trial.id, trial.config(), "failed", msg))
        return msg

    def write_exact(self, exp: "Experiment", trial: "Trial", rec: ExactRecord) -> None:
        write_json(self.exact_path(exp, trial), rec.to_dict(), compact=rec.ok)

    def write_header(self, exp: "Experiment") -> None:
        """What a run starts with: the experiment as given and validated, and the indicators'
        fixed normalisation."""
        if exp.source:
            atomic_write_bytes(self.root / "experiment.toml", exp.source.encode())
        write_json(self.root / "experiment.json", exp.as_dict())
        write_json(self.root / "reference.json", {
            "doc": "Indicators use z = normalised objectives and this fixed reference point per task; "
                   "never derived from the fronts measured.",
            "tasks": {k: v.as_dict() for k, v in exp.reference.items()}})

    def write_run(self, exp: "Experiment", progress: dict[str, Any], finished: bool = False) -> None:
        """``run.json`` (the provenance of this run, with ``progress``: its counts); a finished
        run's is also kept under ``runs/``."""
        info = run_info(exp.as_dict(), exp.seeds[0])
        if finished:  # keep when this run started; add when it ended
            info["finished"] = info["started"]
            info["started"] = (self.read("run.json") or {}).get("started", info["started"])
        info.update(seeds=exp.seeds, status="finished" if finished else "running", **progress)
        write_json(self.root / "run.json", info)
        if finished:  # every run's provenance is kept; run.json is the latest
            stamp = info["started"].replace(":", "").replace("+0000", "Z")
            write_json(self.root / "runs" / f"{stamp}-{os.getpid()}-{uuid.uuid4().hex[:6]}.json", info)


def _parsed(cls: type, data: Any, path: Path) -> Any:
    """``cls.from_dict(data)``; a malformed or too new record is one error line naming it."""
    try:
        return cls.from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except MALFORMED as exc:
        raise ConfigError(f"{path}: record is incomplete or malformed "
                          f"({type(exc).__name__}: {exc})") from None
