"""Language-model tasks: a 100-character corpus stands in for Tiny Shakespeare, so these tests
need neither the shared file nor long training. Sequence outputs ([N, C, T] logits, [N, T]
targets) go through the same harness, metrics, estimates and files as classifiers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from wsbench import plugins
from wsbench.errors import ConfigError

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\nFirst, you know Caius"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tinyshakespeare" / "input.txt"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The 100-character corpus and a model of each architecture trained on it for 3 steps."""
    root = tmp_path_factory.mktemp("lm")
    corpus = root / "tiny.txt"
    corpus.write_text(TEXT[:100])
    out = {}
    for arch in ("gru", "transformer"):
        task = plugins.create("task", f"shakespeare-{arch}", data=str(corpus), context=4)
        facts = task.train(root / arch, progress=False, steps=3)
        out[arch] = (corpus, Path(facts["path"]), facts)
    return out


def _task(tiny, arch):
    corpus, ckpt, _ = tiny[arch]
    return plugins.create("task", f"shakespeare-{arch}", data=str(corpus), checkpoint=str(ckpt), context=4)


@pytest.mark.parametrize("arch", ["gru", "transformer"])
def test_contiguous_splits_and_windows_predict_every_next_character(tiny, arch):
    d = _task(tiny, arch).load(progress=False)
    vocab = sorted(set(TEXT[:100]))
    # 100 characters: validation is characters 90-94, test 95-99; one window of 4 each
    assert d.val_x.tolist() == [[vocab.index(c) for c in TEXT[90:94]]]
    assert d.val_y.tolist() == [[vocab.index(c) for c in TEXT[91:95]]]
    assert d.test_x.tolist() == [[vocab.index(c) for c in TEXT[95:99]]]
    assert d.num_classes == len(vocab)
    with torch.inference_mode():
        assert d.model(d.val_x).shape == (1, len(vocab), 4)  # classes on dimension 1


def test_the_gru_runs_the_fused_kernel_on_the_gates_it_declares():
    from wsbench_plugins.shakespeare.models import CharGRU

    torch.manual_seed(0)
    m = CharGRU(20, embed=8, hidden=16).eval()
    x = torch.randint(0, 20, (3, 7))
    torch.testing.assert_close(m(x), m.unrolled(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("arch, unshared", [("gru", {"embed.weight"}),
                                            ("transformer", {"embed.weight", "pos.weight"})])
def test_every_matrix_is_shared_and_the_embeddings_stay_in_the_rest(arch, unshared):
    from wsbench_plugins.shakespeare.models import build_lm

    from wsbench.codec.weights import shared_parameter_names

    model = build_lm(arch, 65)
    shared = set(shared_parameter_names(model))
    matrices = {n for n, p in model.named_parameters() if p.ndim == 2}
    assert shared == matrices - unshared
    assert all(n.endswith(".weight") for n in shared)


def test_the_harness_scores_sequences_by_every_position(tiny):
    from sklearn.metrics import f1_score

    from wsbench.search.fitness import FitnessHarness

    d = _task(tiny, "transformer").load(progress=False)
    d.val_x, d.val_y = d.val_x.repeat(6, 1), d.val_y.repeat(6, 1)  # more rows for a subset
    with torch.inference_mode():
        pred = d.model(d.val_x).argmax(1)
    for metric in ("accuracy", "f1"):
        h = FitnessHarness(d, plugins.create("quantizer", "uniform"), plugins.create("space", "k"),
                           device="cpu", metric=metric)
        want = (float((pred == d.val_y).float().mean()) if metric == "accuracy" else
                f1_score(d.val_y.reshape(-1), pred.reshape(-1), average="macro"))
        assert h.score_current("val") == pytest.approx(want, abs=1e-12)
    screened = FitnessHarness(d, plugins.create("quantizer", "uniform"), plugins.create("space", "k"),
                              device="cpu", metric="accuracy", fidelity=0.5)
    assert len(screened.subset_index) == 3  # rows (windows), not positions


def test_a_margin_estimate_of_sequences_is_exact_at_share_one(tiny):
    from wsbench.search.fitness import FitnessHarness

    d = _task(tiny, "gru").load(progress=False)
    h = FitnessHarness(d, plugins.create("quantizer", "uniform"), plugins.create("space", "k"),
                       device="cpu", metric="accuracy")
    X = np.array([[3.0], [17.0]])
    est = h.estimate(X, 1.0)  # every window: the estimate is the full score
    h.reset()
    F = h.evaluate(X)
    assert np.allclose(np.asarray(est)[:, 0], np.asarray(F)[:, 0])


@pytest.mark.parametrize("arch", ["gru", "transformer"])
def test_compress_writes_a_file_that_decodes_to_the_scored_model(tiny, arch, tmp_path, capsys):
    from wsbench import load_state_dict
    from wsbench.cli import main
    from wsbench.search.fitness import FitnessHarness

    corpus, ckpt, _ = tiny[arch]
    assert main(["compress", "--task", f"shakespeare-{arch}", "--set", f"task.data={corpus}",
                 "--set", f"task.checkpoint={ckpt}", "--set", "task.context=4", "--metric", "accuracy",
                 "--budget", "6", "--k-max", "64", "--max-drop", "0.99", "--no-progress",
                 "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    (folder,) = tmp_path.iterdir()
    rec = json.loads((folder / "trial.json").read_text())
    files = sorted((folder / "compressed").glob("*.wsb"))
    assert files and rec["merged"]
    task = _task(tiny, arch)
    d = task.load(progress=False)
    h = FitnessHarness(d, plugins.create("quantizer", "uniform"), plugins.create("space", "k"),
                       device="cpu", metric="accuracy")
    scored = {round(s["val"], 12) for s in rec["merged"]}
    bits = json.loads((folder / "run.json").read_text())["bits_per_prediction"]
    by_file = dict(zip(bits["files"], bits["solutions"]))
    for path in files:
        d.model.load_state_dict(load_state_dict(path))
        assert round(h.score_current("val"), 12) in scored
        # bits per character beside the metric: -log2 p(next character), every position
        with torch.inference_mode():
            logp = torch.log_softmax(d.model(d.test_x).double(), dim=1)
        expected = -logp.gather(1, d.test_y[:, None, :]).mean().item() / np.log(2)
        assert by_file[f"compressed/{path.name}"]["test"] == pytest.approx(expected, rel=1e-5)


def test_a_missing_or_short_corpus_is_one_clear_error(tmp_path, monkeypatch):
    from wsbench_plugins.shakespeare import data

    short = tmp_path / "short.txt"
    short.write_text("to be")
    with pytest.raises(ConfigError, match="too short"):
        plugins.create("task", "shakespeare-gru", data=str(short)).load(progress=False)
    monkeypatch.setattr(data, "shared_data", lambda rel: None, raising=False)
    monkeypatch.delenv("WSBENCH_SHAKESPEARE", raising=False)
    import wsbench.files.locate as locate

    monkeypatch.setattr(locate, "shared_data", lambda rel: None)
    with pytest.raises(ConfigError, match="Tiny Shakespeare not found"):
        plugins.create("task", "shakespeare-gru").load(progress=False)


@pytest.mark.skipif(not SHARED.exists(), reason="shared/data/tinyshakespeare/input.txt is absent")
def test_the_real_corpus_has_its_published_digest_and_splits():
    from wsbench_plugins.shakespeare.data import SHA256, read_corpus, split_ids

    corpus = read_corpus(SHARED)
    assert corpus.sha256 == SHA256 and len(corpus.text) == 1_115_394 and len(corpus.vocab) == 65
    train, val, test = split_ids(corpus.ids)
    assert (len(train), len(val), len(test)) == (1_003_854, 55_770, 55_770)


@pytest.mark.parametrize("flags", [["--space", "nncodec", "--coding", "native", "--merge", "none"],
                                   ["--coding", "adaptive"], ["--coding", "huffman-layer"]],
                         ids=["nncodec-native", "adaptive", "huffman-layer"])
def test_every_coding_and_the_nnc_standard_round_trip_a_language_model(tiny, flags, tmp_path, capsys):
    from wsbench import load_state_dict
    from wsbench.cli import main
    from wsbench.search.fitness import FitnessHarness

    if flags[1] == "nncodec":
        pytest.importorskip("nncodec")
    corpus, ckpt, _ = tiny["gru"]
    assert main(["compress", "--task", "shakespeare-gru", "--set", f"task.data={corpus}",
                 "--set", f"task.checkpoint={ckpt}", "--set", "task.context=4", "--metric", "accuracy",
                 "--budget", "4", "--max-drop", "0.99", "--no-progress", "--out", str(tmp_path),
                 *flags]) == 0
    capsys.readouterr()
    (folder,) = tmp_path.iterdir()
    rec = json.loads((folder / "trial.json").read_text())
    d = _task(tiny, "gru").load(progress=False)
    h = FitnessHarness(d, plugins.create("quantizer", "uniform"), plugins.create("space", "k"),
                       device="cpu", metric="accuracy")
    scored = {round(s["val"], 12) for s in rec["merged"] or rec["front"]}
    files = sorted((folder / "compressed").glob("*.wsb"))
    assert files
    for path in files:
        d.model.load_state_dict(load_state_dict(path))
        assert round(h.score_current("val"), 12) in scored


def test_val_and_test_limits_keep_a_seeded_subset_of_the_windows_in_order(tiny):
    corpus, ckpt, _ = tiny["gru"]

    def load(**limits):
        return plugins.create("task", "shakespeare-gru", data=str(corpus), checkpoint=str(ckpt),
                              context=1, **limits).load(progress=False)

    full, part = load(), load(val_limit=2, test_limit=3)
    assert len(full.val_x) == 4 and len(full.test_x) == 4  # 5 characters a split: 4 windows of 1
    assert len(part.val_x) == 2 and len(part.test_x) == 3
    rows = [full.val_x.tolist().index(w) for w in part.val_x.tolist()]
    assert rows == sorted(rows)  # a subset, in corpus order
    assert part.val_y.tolist() == [full.val_y[r].tolist() for r in rows]
    assert load(val_limit=2).val_x.tolist() == part.val_x.tolist()  # the same draw every time
    with pytest.raises(ConfigError, match="val_limit"):
        load(val_limit=0)
