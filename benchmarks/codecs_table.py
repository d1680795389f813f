"""Whole compression methods side by side, from a finished ``codecs-cifar10`` results folder.

    python benchmarks/codecs_table.py [results/codecs-cifar10] [--artifacts benchmarks/artifacts]
        [--figure results/codecs-cifar10/codecs.png] [--json results/codecs-cifar10/codecs.json]

For every configuration and seed, each drop of the experiment (0.5 and 1 point) selects, among
the front members re-scored on the full validation split, the one with the largest whole-file CR
whose **validation** metric is within the drop of the baseline's; the table reports its test
metric. Each method is measured in its own file coding: ``native`` for a codec space (the NNC
bitstream), the paper's Huffman coding otherwise. The figure puts every method's front
(whole-file CR against test metric) on one plot.

With ``--artifacts``, every selected solution of a codec space is written again as a file
(``<method>-<drop>.wsb``: the space re-codes the recorded decision), decoded with
``wsbench.load_state_dict`` into a fresh model, re-scored on validation and test, and checked
against the record (size and both scores); ``artifacts.json`` beside them says what each is.
With ``--margin`` as well, a margin selection that differs from the plain one is written too
(``<method>-<drop>-margin.wsb``).

With ``--margin``, the table of every row selected a second time with a one-standard-error
margin is printed: the largest-CR member whose validation drop *plus* the paired bootstrap
standard error of that drop (kept in each record, ``val_se``) is within the drop; the report's
rule, selected by the same code (:func:`wsbench.report.methods.select`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np


def selections(store_root: Path) -> tuple[dict, list[dict]]:
    """The experiment's facts and one row per (method, seed, drop), selected as the report
    selects (:func:`wsbench.report.methods.select`)."""
    from wsbench.experiments.experiment import Experiment
    from wsbench.experiments.store import ResultsStore
    from wsbench.experiments import indicators
    from wsbench.report.methods import ONE_SE, own_coding, select

    store = ResultsStore(store_root)
    exp = Experiment.from_dict(store.read("experiment.json"))
    rows = []
    for rec in sorted(store.finished().values(), key=lambda r: r.id):
        if not rec.ok:
            continue
        key = "cr_file_native" if own_coding(rec) == "native" else "cr_file"
        label = f"{rec.trial['space']['label']} / {rec.trial['optimizer']['label']}"
        has_se = indicators.has_se(rec.front)
        margins = select(rec, exp.drops, ONE_SE) if has_se else [None] * len(exp.drops)
        for pick, margin in zip(select(rec, exp.drops), margins):
            margin = margin if margin is None or margin["x"] is not None else None
            rows.append({"method": label, "task": rec.trial["task"]["label"],
                         "task_options": rec.trial["task"]["options"], "metric": rec.trial["metric"],
                         "threads": (rec.provenance.get("machine") or {}).get("torch_threads"),
                         "space": rec.trial["space"], "seed": rec.trial["seed"],
                         "margin": margin, "has_se": has_se,
                         "quantizer": rec.trial["quantizer"]["name"], **pick,
                         "unique": rec.unique, "baseline": rec.baseline.to_dict(),
                         "front": [(s[key], s.val, s.test) for s in rec.front],
                         "front_x": [list(s["x"]) for s in rec.front]})
    return {"name": exp.name, "task": exp.tasks[0].label, "drops": list(exp.drops)}, rows


def table(rows: list[dict]) -> str:
    """Markdown: per method and drop, (min-max) over seeds."""
    def span(vals: list[float], fmt: str) -> str:
        lo, hi = min(vals), max(vals)
        return f"{lo:{fmt}}" if abs(hi - lo) < 5e-3 else f"{lo:{fmt}} to {hi:{fmt}}"

    out = ["| method | coding | seeds | unique evals | within | whole-file CR | val drop (pt) | test drop (pt) |",
           "|---|---|--:|--:|--:|--:|--:|--:|"]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["method"], r["drop"]), []).append(r)
    for (method, drop), rs in groups.items():
        got = [r for r in rs if r["cr_file"] is not None]
        cells = [span([r[k] for r in got], ".2f") for k in ("cr_file", "val_drop", "test_drop")] \
            if got else ["-", "-", "-"]
        out.append(f"| {method} | {rs[0]['coding']} | {len(rs)} | {span([r['unique'] for r in rs], '.0f')} "
                   f"| {100 * drop:.1f} pt | " + " | ".join(cells) + " |")
    return "\n".join(out)


def figure(rows: list[dict], path: Path, task: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9.5, 4.5))
    methods = list(dict.fromkeys(r["method"] for r in rows if r["front"]))
    colors, markers = plt.get_cmap("tab20").colors, "os^vDP*X"  # distinct past ten methods
    labelled: set[str] = set()
    for r in rows:
        if r["drop"] != rows[0]["drop"] or not r["front"]:
            continue
        cr, _, test = np.array(r["front"], dtype=float).T
        order = np.argsort(cr)
        i = methods.index(r["method"])
        label = None if r["method"] in labelled else r["method"]
        labelled.add(r["method"])
        ax.plot(cr[order], 100 * test[order], "-", marker=markers[i % len(markers)], ms=3, lw=1,
                alpha=.8, color=colors[i % len(colors)], label=label)
    base = 100 * rows[0]["baseline"]["test"]
    for drop in sorted({r["drop"] for r in rows}):
        ax.axhline(base - 100 * drop, color="grey", ls=":", lw=1)
    ax.axhline(base, color="black", lw=1, label="baseline (fp32)")
    ax.set(xlabel="whole-file compression ratio", ylabel="test macro F1 (%)",
           title=f"{task}: every method's re-scored front (CIFAR-10 JPEG)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def harness(task: str, metric: str = "f1", task_options: dict | None = None):
    """A fitness harness of ``task`` (its trained model, splits and calibration inputs),
    scoring ``metric`` as the trials did."""
    from wsbench.experiments.compress_run import CompressConfig
    from wsbench.experiments.trial import build_harness

    config = CompressConfig(task=task, metric=metric, task_options=dict(task_options or {}))
    return build_harness(config.trial(), progress=False)


def bound_space(r: dict, h, spaces: dict[str, Any]):
    """The row's space, bound to ``h`` and calibrated once per (space, quantizer) and reused:
    the plain and margin picks of both drops share it."""
    from wsbench import plugins

    key = json.dumps([r["space"], r["quantizer"]], sort_keys=True)
    if key not in spaces:
        spaces[key] = plugins.create("space", r["space"]["name"], **r["space"]["options"])
        h.bind_space(spaces[key])
    return spaces[key]


def picks(rows: list[dict]) -> list[tuple[dict, dict, str, list[str]]]:
    """Every codec selection to write as a file: (row, pick, file suffix, the rules that pick
    it); a margin pick gets a file of its own only where it differs from the plain one."""
    out = []
    for r in rows:
        if r["coding"] != "native":
            continue
        m = r.get("margin")
        if r["x"] is not None:
            same = m is not None and m["x"] == r["x"]
            out.append((r, r, "", ["plain"] + (["one standard error"] if same else [])))
        if m is not None and m["x"] != r["x"]:
            out.append((r, m, "-margin", ["one standard error"]))
    return out


def artifacts(rows: list[dict], h, out: Path, spaces: dict[str, Any]) -> list[dict]:
    """Re-code each codec selection as a file, decode it into a fresh model, re-score, check."""
    return [write_artifact(r, pick, f"{r['space']['label']}-s{r['seed']}-"
                                    f"{round(1000 * r['drop'])}permil{suffix}.wsb",
                           chosen_by, h, out, spaces)
            for r, pick, suffix, chosen_by in picks(rows)]


def write_artifact(r: dict, pick: dict, name: str, chosen_by: list[str], h, out: Path,
                   spaces: dict[str, Any]) -> dict:
    """Write the row's ``pick`` as the file ``out/name`` (the space re-codes the recorded
    decision, as the trial did, with the trial's torch thread count: Brevitas' GPTQ rounds
    otherwise at another count), decode it into ``h``'s model, score it on validation and
    test, restore the trained weights, and say whether size and test score match the record."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(r.get("threads") or before))
    try:
        return _write_artifact(r, pick, name, chosen_by, h, out, spaces)
    finally:
        torch.set_num_threads(before)


def _write_artifact(r: dict, pick: dict, name: str, chosen_by: list[str], h, out: Path,
                    spaces: dict[str, Any]) -> dict:
    import torch

    from wsbench import load_state_dict
    from wsbench.codec.compress import CompressedModel

    trained = {k: v.clone() for k, v in h.model.state_dict().items()}
    out.mkdir(parents=True, exist_ok=True)
    space = bound_space(r, h, spaces)
    x = np.asarray(pick["x"], dtype=np.float64)
    q = space.quantize(h.view, None, x)
    cm = CompressedModel.from_view(h.view, q, r["quantizer"], "native", k=space.k_of(x))  # as the trial
    path = cm.save(out / name)
    h.model.load_state_dict(load_state_dict(path))  # every tensor as the file decodes it
    val, test = h.score_current("val"), h.score_current("test")
    with torch.no_grad():
        h.model.load_state_dict(trained)
    entry = {"file": name, "bytes": path.stat().st_size, "cr_file": cm.cr_file, "x": pick["x"],
             "val": val, "test": test, "method": r["method"], "drop": r["drop"],
             "selection": chosen_by,
             "matches_record": bool(abs(cm.cr_file - pick["cr_file"]) < 1e-9
                                    and abs(100 * (r["baseline"]["test"] - test) - pick["test_drop"]) < 1e-6)}
    print(f"{name}: {entry['bytes']} bytes, CR {cm.cr_file:.2f}, val {val:.4f}, test {test:.4f}, "
          f"record {'matches' if entry['matches_record'] else 'DIFFERS'}", file=sys.stderr)
    return entry


def margin_table(rows: list[dict]) -> str:
    """Markdown of the one-standard-error selections, one line per method, seed and drop."""
    out = ["| method | seed | within | whole-file CR | val drop + se (pt) | test drop (pt) |",
           "|---|--:|--:|--:|--:|--:|"]
    for r in rows:
        m = r["margin"]
        cells = (f"{m['cr_file']:.2f} | {m['val_drop']:.2f} + {m['se']:.2f} | {m['test_drop']:.2f}"
                 if m else "- | - | -")
        out.append(f"| {r['method']} | {r['seed']} | {100 * r['drop']:.1f} pt | {cells} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", nargs="?", type=Path, default=Path("results/codecs-cifar10"))
    p.add_argument("--figure", type=Path, help="PNG (default RESULTS/codecs.png)")
    p.add_argument("--json", type=Path, help="the selections (default RESULTS/codecs.json)")
    p.add_argument("--artifacts", type=Path, help="write, decode and re-score each codec selection here")
    p.add_argument("--margin", action="store_true",
                   help="also print the selections with a one-standard-error margin on validation "
                        "(from the errors each record keeps) and write their files")
    args = p.parse_args(argv)
    from wsbench.errors import WsbenchError

    try:
        if not (args.results / "experiment.json").is_file():
            raise WsbenchError(f"{args.results}: not a results folder (no experiment.json)")
        facts, rows = selections(args.results)
        if not rows:
            raise WsbenchError(f"{args.results}: no finished trial yet")
        print(table(rows))
        figure(rows, args.figure or args.results / "codecs.png", facts["task"])
        if args.margin:
            if not all(r["has_se"] for r in rows):
                raise WsbenchError(f"{args.results}: records made before the standard errors were "
                                   f"kept; run the experiment again for --margin")
            print("\nWith a one-standard-error margin:\n" + margin_table(rows))
        else:  # the margin picks get files only when asked for
            rows = [{**r, "margin": None} for r in rows]
        h = harness(facts["task"], rows[0]["metric"], rows[0]["task_options"]) if args.artifacts else None
        spaces: dict[str, Any] = {}  # bound once, shared by the plain and margin picks
        done = artifacts(rows, h, args.artifacts, spaces) if args.artifacts else []
    except WsbenchError as exc:
        print(f"codecs_table: error: {exc}", file=sys.stderr)
        return 2
    out = args.json or args.results / "codecs.json"
    out.write_text(json.dumps({**facts, "rows": rows}, indent=1) + "\n")
    if args.artifacts:
        command = "python benchmarks/codecs_table.py " + " ".join(argv if argv is not None else sys.argv[1:])
        (args.artifacts / "artifacts.json").write_text(json.dumps(
            {"command": command, "experiment": "benchmarks/codecs-cifar10.toml", "files": done},
            indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
