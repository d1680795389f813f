"""The command line: the pipeline end to end, and one clear line for every bad input."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys

import pytest
import torch

from wsbench.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv,message", [
    (["compress", "--task", "nope"], "unknown task 'nope'; valid tasks: cifar10-resnet18, cifar10-resnet20, cifar10-resnet20-idelbayev, cifar10-resnet32-idelbayev, cifar10-resnet44-idelbayev, cifar10-resnet56-idelbayev, cifar100-resnet18, cifar100-resnet20, digits-cnn, digits-mlp"),
    (["compress", "--optimizer", "nope"], "valid optimizers:"),
    (["compress", "--quantizer", "nope"], "valid quantizers: kmeans, uniform"),
    (["compress", "--merge", "nope"], "valid merges:"),
    (["compress", "--merge", "neighbour"], "; did you mean 'neighbor' or 'neighbor-bits'?"),
    (["compress", "--optimizer", "randm"], "valid optimizers: allocate, botorch, cb-init-nsga2, "
     "cb-nsga2, cmaes, exhaustive, frontier, nsga2, nsga3, optuna, pso, random; did you mean 'random'?"),
    (["compress", "--k-min", "1"], "option k_min of space 'k' must be in [2, 1048576], got 1"),
    (["compress", "--k-min", "50", "--k-max", "10"], "K bounds must satisfy"),
    (["compress", "--set", "optimizer.pop_size"], "--set expects KIND.KEY=VALUE"),
    (["compress", "--set", "optimizer.no_such_option=1"], "optimizer 'nsga2' has no option 'no_such_option'"),
    (["compress", "--set", "optimizer.pop_sise=10"], "has no option 'pop_sise' (options: crossover_eta, "
     "crossover_prob, crossover_prob_var, init, mutation_eta, mutation_prob, pop_size); did you mean 'pop_size'?"),
    (["compress", "--set", "optimizer.pop_size=abc"],
     "option pop_size of optimizer 'nsga2' takes an integer (default 100), got 'abc'"),
    (["compress", "--set", "merge.tolerance=true"], "option tolerance of merge 'neighbor' takes a number"),
    (["compress", "--budget", "0"], "--budget: must be at least 1, got 0"),
    (["compress", "--optimizer", "optuna", "--set", "optimizer.sampler=FooSampler"],
     "sampler must be one of TPESampler"),
    (["compress", "--optimizer", "frontier", "--set", "optimizer.bandwidth=-1"],
     "option bandwidth of optimizer 'frontier' must be in (0, 64], got -1"),
    (["compress", "--optimizer", "frontier", "--set", "optimizer.estimate_share=1"],
     "option estimate_share of optimizer 'frontier' must be in [0, 1), got 1"),
    (["plugins", "--kind", "nope"], "unknown plugin kind 'nope'"),
    (["train", "--threads", "0"], "--threads: must be at least 1, got 0"),
    (["train", "--task", "digits-cnn", "--epochs", "-1"], "--epochs: must be at least 0, got -1"),
    (["train", "--epochs", "0"], "--epochs must be at least 1 (0 only with --init and --swa-epochs)"),
    (["train", "--swa-epochs", "-1"], "--swa-epochs: must be at least 0, got -1"),
    (["train", "--init", "/nonexistent/x.pt", "--epochs", "0", "--swa-epochs", "1"],
     "cannot read checkpoint /nonexistent/x.pt"),
])
def test_bad_input_is_one_line(capsys, tmp_path, argv, message):
    code, out, err = run_cli(capsys, *argv, *(["--out", str(tmp_path)] if argv[0] == "compress" else []))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("wsbench: error:") and message in err
    assert "Traceback" not in err and out == ""  # no "searching ..." line before the error
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_decompress_errors(capsys, tmp_path):
    bad = tmp_path / "bad.wsb"
    bad.write_bytes(b"garbage")
    for path in (bad, tmp_path / "missing.wsb"):
        code, _, err = run_cli(capsys, "decompress", str(path), "-o", str(tmp_path / "o.pt"))
        assert code == 2 and err.count("\n") == 1 and str(path) in err
    assert not (tmp_path / "o.pt").exists()


@pytest.mark.parametrize("coding", ["huffman", "huffman-layer"])
def test_compress_end_to_end(capsys, tmp_path, digits_cnn, coding):
    code, out, err = run_cli(capsys, "compress", "--budget", "30", "--k-max", "128", "--coding", coding,
                             "--set", "optimizer.pop_size=10", "--no-progress", "--out", str(tmp_path))
    assert code == 0, err
    for row in ("baseline", "UB (K=1024)", "MO-UB", "+ merge", "+ Huffman", "+ per-tensor Huffman"):
        assert row in out
    (run,) = [p for p in tmp_path.iterdir()]
    assert not run.name.startswith(".")
    info = json.loads((run / "run.json").read_text())
    assert info["seed"] == 0 and info["config"]["budget"] == 30
    assert info["unique_evaluations"] <= 30 and info["requested_evaluations"] >= info["unique_evaluations"]
    assert info["versions"]["torch"] and "machine" in info and "git" in info
    from wsbench.codec.weights import WeightView

    assert info["model"] == WeightView.of(digits_cnn.model).fingerprint()  # which weights ran
    front = list(csv.DictReader(open(run / "front.csv")))
    assert front and (run / "front.png").stat().st_size > 0 and (run / "table.md").exists()
    cr_key = "cr_file_layer" if coding == "huffman-layer" else "cr_file"
    for row in front:
        assert int(row["merged_d"]) <= int(row["d"]) <= int(row["K"])
        assert float(row["cr_paper_layer"]) >= float(row["cr_paper"])  # never more index bits
        size = (run / row["file"]).stat().st_size
        assert float(row[cr_key]) == pytest.approx(info["original_bytes"] / size)
        state_path = tmp_path / "state.pt"
        assert main(["decompress", str(run / row["file"]), "-o", str(state_path)]) == 0
        state = torch.load(state_path, weights_only=True)
        model = digits_cnn.model
        model.load_state_dict(state)
        shared = torch.cat([state[k].flatten() for k in ("0.weight", "2.weight", "6.weight", "8.weight")])
        assert len(torch.unique(shared)) == int(row["merged_d"])


def test_a_ctrl_c_while_the_process_exits_ends_it_quietly():
    """A SIGINT during the exit callbacks (as tqdm's monitor or a pool being joined) ends the
    process with 130, not with "Exception ignored in atexit callback ... KeyboardInterrupt"."""
    code = ("import atexit, os, signal, sys, time\n"
            "signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal\n"
            "atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(30)))\n"
            "from wsbench.cli import main\n"
            "sys.argv = ['wsbench', 'plugins', '--kind', 'merge']\n"
            "sys.exit(main())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "neighbor" in done.stdout  # the command itself ran and printed everything
    assert done.returncode == 130 and done.stderr == "", done.stderr


def test_help_is_fast_to_import():
    """`wsbench --help` must not import torch or matplotlib."""
    code = ("import sys; from wsbench.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'matplotlib', 'pandas', 'pymoo') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_train_reproduces_a_digits_model_and_compares_it_with_the_shipped_one(capsys, tmp_path):
    """`wsbench train --task digits-mlp` is deterministic and says whether it equals the shipped file
    (it does on the machine that trained it; another CPU may round differently)."""
    shas = []
    for out in (tmp_path / "a", tmp_path / "b"):
        code, stdout, err = run_cli(capsys, "train", "--task", "digits-mlp", "--out", str(out))
        assert code == 0, err
        assert "identical to the shipped checkpoint" in stdout or "differs from the shipped" in stdout
        blob = (out / "digits-mlp.pt").read_bytes()
        sha = (out / "digits-mlp.sha256").read_text().split()[0]
        assert hashlib.sha256(blob).hexdigest() == sha
        shas.append(sha)
    assert shas[0] == shas[1]


def test_a_search_that_ends_before_its_budget_says_why():
    from wsbench.commands.compress import stop_reason

    assert stop_reason(1000, 5000, 1000, 10_000) is None
    capped = stop_reason(512, 10_056, 1000, 10_000)
    assert "stopped at 512 of 1000" in capped and "max_requested 10000" in capped
    assert "--max-requested" in capped and "9544 of them already evaluated" in capped
    assert "already evaluated" not in stop_reason(195, 195, 300, 100)
    assert "nothing new to ask" in stop_reason(39, 200, 100, 10_000)
