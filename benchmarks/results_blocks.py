"""The tables RESULTS.md quotes: which experiment and report table fills each block.

A catalogue for ``benchmarks/results.py``, kept apart so that adding a block is one line here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DROP = ("search time [s]", "s / decision")  # columns that measure the machine, not the method
# the libraries whose versions a provenance line names: those that draw or compute the numbers
KEY_LIBRARIES = ("botorch", "brevitas", "cma", "nncodec", "numpy", "optuna", "pymoo", "pyswarms",
                 "scikit-learn", "scipy", "torch")


@dataclass(frozen=True)
class Block:
    name: str            # the RESULTS.md block
    experiment: str      # file under benchmarks/
    table: str           # report Table label, {task} filled in
    group: str           # what --only selects besides the name: digits, search, cifar, problems, ptq, suite
    keep: tuple[str, ...] = field(default=())  # columns kept (all but DROP when empty)
    exact_only: bool = False  # the experiment is run for its exact fronts (landscapes) alone
    script: str = ""  # a script under benchmarks/ whose table(results) gives the block instead


def one_se(*columns: str) -> tuple[str, ...]:
    """The report's compression columns under its rule (the drop plus its standard error)."""
    return tuple(f"{c} (1 SE)" for c in columns)


OPEN_SEARCH = ("configuration", "HV", "HV / best-known", "IGD+", "reached 95% of best-known",
               "unique / requested", "rank (HV)")
BLOCKS = (
    Block("quick-search", "quick.toml", "search-{task}", "digits", OPEN_SEARCH),
    Block("quick-k-search", "quick-k.toml", "search-{task}", "digits",
          ("configuration", "HV", "HV / exact", "IGD+", "evals to 99% exact HV", "evals to exact HV",
           "reached exact", "unique / requested", "rank (HV)")),
    Block("quick-k-compression", "quick-k.toml", "compression-{task}", "digits",
          ("configuration",) + one_se("CR @0.5pt", "CR file @0.5pt", "test f1 @0.5pt", "CR @1pt",
                                      "CR file @1pt", "test f1 @1pt")),
    Block("ablation-search", "ablation-digits.toml", "search-{task}", "digits",
          ("configuration", "HV", "unique / requested", "rank (HV)")),
    Block("ablation-compression", "ablation-digits.toml", "compression-{task}", "digits",
          ("configuration",) + one_se("CR @0.5pt", "CR file @0.5pt", "test f1 @0.5pt")),
    Block("search-per-evaluation", "search.toml", "search-{task}", "search",
          ("configuration", "HV / exact", "evals to 99% exact HV", "evals to 99.5% exact HV",
           "evals to exact HV", "reached exact", "unique / requested")),
    Block("search-gp", "search-gp.toml", "search-{task}", "search",
          ("configuration", "HV / exact", "evals to 99% exact HV", "evals to 99.5% exact HV",
           "evals to exact HV", "reached exact", "unique / requested")),
    Block("search-estimates", "search-estimates.toml", "search-{task}", "search",
          ("configuration", "HV / exact", "evals to 99% exact HV", "evals to 99.5% exact HV",
           "evals to exact HV", "unique / requested")),
    Block("beyond-merge-pairs", "beyond-digits.toml", "merge-pairs-{task}", "digits"),
    Block("beyond-coding-pairs", "beyond-digits.toml", "coding-pairs-{task}", "digits"),
    Block("cifar-table1", "paper-cifar10-cpu.toml", "table1-{task}", "cifar"),
    Block("cifar-coding-pairs", "paper-cifar10-cpu.toml", "coding-pairs-{task}", "cifar"),
    Block("cifar-fp32-table1", "paper-cifar10-cpu-fp32.toml", "table1-{task}", "cifar-fp32"),
    Block("problems-layerwise", "problems-layerwise.toml", "search-{task}", "problems",
          tuple(c + (" [screened: 10% of validation]" if c in ("HV", "HV / best-known", "IGD+") else "")
                for c in OPEN_SEARCH)),
    Block("problems-layerwise-cifar", "problems-layerwise-cifar.toml", "search-{task}", "problems",
          OPEN_SEARCH),
    Block("problems-landscapes", "problems-landscapes.toml", "tasks", "problems",
          ("task", "reference front"), exact_only=True),
    Block("ptq-brevitas", "ptq-brevitas.toml", "methods-{task}", "ptq"),
    # issue 33, "Across problems": every problem of the suite, aggregated over problems
    Block("suite-landscapes", "suite-landscapes.toml", "tasks", "suite",
          ("task", "reference front"), exact_only=True),
    Block("suite-codecs", "suite-codecs.toml", "methods-across", "suite"),
    Block("suite-goals", "suite-codecs.toml", "", "suite", script="suite_goals"),
    Block("suite-search-leaderboard", "suite-search.toml", "across-leaderboard", "suite"),
    Block("suite-search-ert", "suite-search.toml", "across-ert", "suite"),
    Block("lm-per-tensor", "lm-per-tensor.toml", "methods-{task}", "suite"),
)
