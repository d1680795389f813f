"""Typed records of what ``wsbench run`` writes (trials/*.json, exact/*.json), so that no
module spells a record's keys: each class has one ``to_dict`` (exactly the JSON written) and one
``from_dict`` (older records lacking later keys such as ``bits_layer``, ``bits_adaptive``, ``ub``
or ``model`` still read; a newer ``RECORD_FORMAT`` is refused rather than misread)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from wsbench.errors import ConfigError
from wsbench.experiments.codings import SIZE_KEYS, SOLUTION_ORDER, CodedSize, Coding  # noqa: F401

if TYPE_CHECKING:
    from wsbench.experiments.trial import Scored

RECORD_FORMAT = 1  # schema version written into every record; raise it when a key changes meaning


def check_format(data: Mapping[str, Any], what: str) -> int:
    """The record's schema version; one this wsbench does not know is one clear error line."""
    fmt = data.get("format", RECORD_FORMAT)  # hand-built records (tests, scripts) may omit it
    if type(fmt) is not int or not 1 <= fmt <= RECORD_FORMAT:
        raise ConfigError(f"{what} {data.get('id') or data.get('key') or '?'} has record format "
                          f"{fmt!r}; this wsbench reads format {RECORD_FORMAT} and older: upgrade it")
    return fmt


class _FileKeys:
    """Read access by the file's key (``rec["front"]``), for scripts written against the JSON."""

    def __getitem__(self, key: str) -> Any:
        if key in self.__dataclass_fields__:  # type: ignore[attr-defined]
            return getattr(self, key)
        return self.to_dict()[key]  # type: ignore[attr-defined]


@dataclass
class Solution(_FileKeys):
    """One scored solution of a trial: its decision, K, d, metrics and coded sizes."""

    x: list[float]
    k: int
    d: int
    val: float
    test: float
    sizes: dict[Coding, CodedSize]   # fixed and huffman always; the others in newer records
    file_bytes: int | None = None    # bytes of its Huffman-coded file
    d_before: int | None = None      # merged solutions: d of the front member before merging
    val_se: float | None = None      # bootstrap SE of its validation drop (older records: None)

    def __getitem__(self, key: str) -> Any:
        found = SIZE_KEYS.get(key)
        return getattr(self.sizes[found[0]], found[1]) if found else super().__getitem__(key)

    def has(self, coding: Coding) -> bool:  # older records lack the later codings
        return coding in self.sizes

    @property
    def cr_paper(self) -> float:  # the paper's CR (32 / mean Huffman bits), the headline figure
        return self.sizes[Coding.HUFFMAN].cr_paper

    @property
    def cr_file(self) -> float:  # likewise
        return self.sizes[Coding.HUFFMAN].cr_file  # type: ignore[return-value]

    @classmethod
    def from_scored(cls, s: "Scored", before: "Scored | None" = None) -> "Solution":
        """From a :class:`~wsbench.experiments.compress_run.Scored` (and, when merged, the member before)."""
        sizes = {c: CodedSize(m.avg_bits, m.cr_paper, m.cr_file if c.cr_file_key else None)
                 for c, m in s.models.items()}
        return cls(list(s.x), s.k, s.d, s.val, s.test, sizes,
                   s.coded(Coding.HUFFMAN).file_size, None if before is None else before.d,
                   s.val_se)

    def to_dict(self) -> dict[str, Any]:
        flat: dict[str, Any] = {"x": self.x, "k": self.k, "d": self.d, "val": self.val,
                                "val_se": self.val_se, "test": self.test,
                                "file_bytes": self.file_bytes, "d_before": self.d_before}
        for c, size in self.sizes.items():
            flat[c.bits_key], flat[c.cr_paper_key] = size.bits, size.cr_paper
            if c.cr_file_key:
                flat[c.cr_file_key] = size.cr_file
        return {k: flat[k] for k in SOLUTION_ORDER
                if k in flat and not (k in ("file_bytes", "d_before", "val_se") and flat[k] is None)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Solution":
        sizes = {c: CodedSize(data[c.bits_key], data[c.cr_paper_key],  # older: fixed, huffman only
                              data[c.cr_file_key] if c.cr_file_key else None)
                 for c in Coding if c in (Coding.FIXED, Coding.HUFFMAN) or c.bits_key in data}
        return cls(list(data["x"]), data["k"], data["d"], data["val"], data["test"], sizes,
                   data.get("file_bytes"), data.get("d_before"), data.get("val_se"))


@dataclass(frozen=True)
class Baseline:
    """The uncompressed model's validation and test metric."""

    val: float
    test: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Baseline":
        return cls(data["val"], data["test"])


@dataclass
class Archive:
    """Every evaluation a trial's search asked for, in order (repeats marked ``cached``)."""

    x: list[list[float]] = field(default_factory=list)
    f: list[list[float]] = field(default_factory=list)
    cached: list[bool] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    unique_index: list[int] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)  # evaluations spent, estimates included

    def to_dict(self) -> dict[str, list]:
        out = asdict(self)
        if self.cost == [float(i) for i in self.unique_index]:  # no estimates: cost says nothing new
            del out["cost"]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Archive":  # f and cached: the indicators'
        unique = data.get("unique_index", [])
        return cls(data.get("x", []), data["f"], data["cached"], data.get("seconds", []),
                   unique, data.get("cost", [float(i) for i in unique]))

    @classmethod
    def of(cls, entries: list) -> "Archive":  # from a harness's archive entries
        return cls([list(e.x) for e in entries], [list(e.f) for e in entries],
                   [e.cached for e in entries], [e.seconds for e in entries],
                   [e.unique_index for e in entries], [float(e.cost) for e in entries])


@dataclass
class TrialRecord(_FileKeys):
    """One trial's record: ``status`` ok (every field), skipped or failed (with ``reason``)."""

    key: str
    id: str
    trial: dict[str, Any]                 # the trial's full config (Trial.config())
    status: str                           # "ok", "skipped" or "failed"
    reason: str | None = None
    baseline: Baseline | None = None
    n_shared: int | None = None
    original_bytes: int | None = None
    requested: int = 0
    unique: int = 0
    charged: float = 0.0                  # margin estimates, in full evaluations (0: none)
    archive: Archive | None = None
    front: list[Solution] = field(default_factory=list)
    merged: list[Solution] = field(default_factory=list)
    merge_evaluations: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    ub: Solution | None = None            # the "random UB" row (records since it was added)
    model: str | None = None              # fingerprint of the trained weights (likewise)
    code: dict[str, Any] | None = None    # the code that made it (code_identity; likewise)
    format: int = RECORD_FORMAT

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        head = {"format": self.format, "key": self.key, "id": self.id}
        if self.status == "failed":
            return {**head, "status": "failed", "reason": self.reason, "trial": self.trial}
        out = {**head, "trial": self.trial, "status": self.status}
        if self.ok:
            assert self.baseline is not None and self.archive is not None
            out.update(baseline=self.baseline.to_dict(), n_shared=self.n_shared,
                       original_bytes=self.original_bytes, requested=self.requested,
                       unique=self.unique, archive=self.archive.to_dict(),
                       front=[s.to_dict() for s in self.front],
                       merged=[s.to_dict() for s in self.merged],
                       merge_evaluations=self.merge_evaluations, seconds=self.seconds,
                       provenance=self.provenance)
        else:  # skipped
            out["reason"] = self.reason
        # added to every record the runner ran (skipped too); older records lack them
        for name, value in (("ub", self.ub.to_dict() if self.ub else None),
                            ("n_shared", self.n_shared), ("model", self.model),
                            ("charged", self.charged or None), ("code", self.code)):
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrialRecord":
        """A record as read (a hand-built one with an archive but no status reads as a result)."""
        rec = cls(data.get("key", ""), data.get("id", ""), data.get("trial", {}),
                  data.get("status", ""), data.get("reason"),
                  format=check_format(data, "trial record"))
        if rec.ok or "archive" in data:
            rec.baseline = Baseline.from_dict(data["baseline"])
            rec.archive = Archive.from_dict(data["archive"])
            rec.requested, rec.unique = data["requested"], data["unique"]
            rec.merged = [Solution.from_dict(s) for s in data["merged"]]
            rec.front = [Solution.from_dict(s) for s in data.get("front", [])]
            rec.merge_evaluations, rec.seconds = data["merge_evaluations"], data["seconds"]
            rec.original_bytes, rec.provenance = data.get("original_bytes"), data.get("provenance", {})
        rec.n_shared, rec.model, rec.code = data.get("n_shared"), data.get("model"), data.get("code")
        rec.charged = float(data.get("charged", 0.0))
        rec.ub = Solution.from_dict(data["ub"]) if data.get("ub") else None
        return rec


@dataclass
class ExactRecord(_FileKeys):
    """The exact front of a task/space/quantizer/screening, or why it is ``unavailable``."""

    key: str
    task: dict[str, Any]
    space: dict[str, Any]
    quantizer: dict[str, Any]
    metric: str
    include: str
    status: str
    screening: dict[str, Any] | None = None
    model: str | None = None
    reason: str | None = None
    points: int = 0
    x: list[list[float]] = field(default_factory=list)
    f: list[list[float]] = field(default_factory=list)
    front_x: list[list[float]] = field(default_factory=list)
    front_f: list[list[float]] = field(default_factory=list)
    seconds: float = 0.0
    provenance: dict[str, Any] = field(default_factory=dict)
    code: dict[str, Any] | None = None  # the code that made it (older records lack it)
    format: int = RECORD_FORMAT

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def head(self) -> dict[str, Any]:  # what the front depends on, and which weights it scored
        out: dict[str, Any] = {"format": self.format, "key": self.key, "task": self.task,
                               "space": self.space, "quantizer": self.quantizer,
                               "metric": self.metric, "include": self.include}
        for name in ("screening", "model", "code"):  # older records lack them
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out

    def to_dict(self) -> dict[str, Any]:
        out = {**self.head(), "status": self.status}
        if not self.ok:
            return {**out, "reason": self.reason}
        return {**out, "points": self.points, "x": self.x, "f": self.f, "front_x": self.front_x,
                "front_f": self.front_f, "seconds": self.seconds, "provenance": self.provenance}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ExactRecord":
        rec = cls(data["key"], data["task"], data["space"], data["quantizer"], data["metric"],
                  data["include"], data["status"], data.get("screening"), data.get("model"),
                  data.get("reason"), code=data.get("code"),
                  format=check_format(data, "exact-front record"))
        if rec.ok:
            rec.points, rec.x, rec.f = data["points"], data["x"], data["f"]
            rec.front_x, rec.front_f = data["front_x"], data["front_f"]
            rec.seconds, rec.provenance = data["seconds"], data.get("provenance", {})
        return rec
