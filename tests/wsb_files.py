"""Test helpers: take a compressed file apart and put it back, edited, as a crafted file would."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path


def parts(raw: bytes) -> tuple[dict, dict, dict]:
    """The safetensors metadata, the parsed header and the tensors of a compressed file."""
    from safetensors.torch import load

    from wsbench.codec.fileformat import _expand

    n = int.from_bytes(raw[:8], "little")
    meta = json.loads(raw[8:8 + n])["__metadata__"]
    text = _expand(meta["header_z"]) if "header_z" in meta else meta["header"]
    return meta, json.loads(text), load(raw)


def build(meta: dict, header: dict, tensors: dict, rehash: bool = True) -> bytes:
    """A file of these parts; ``rehash`` recomputes the checksums as the file's version does
    (the metadata's one where the file has it), so that the reader's own consistency checks (not
    a checksum) are what refuse it."""
    from safetensors.torch import save

    from wsbench.codec.fileformat import STORED, _tensor_hash, checksum, stored_checksum

    header = dict(header)
    if rehash:
        header["sha256"] = checksum(tensors, header, int(meta["version"]))
    if "header_z" in meta:  # version 5: the header stored compressed
        stored = {"header_z": base64.b85encode(zlib.compress(json.dumps(header).encode())).decode()}
    else:
        stored = {"header": json.dumps(header)}
    meta = {**meta, **stored}
    if rehash and STORED in meta:
        meta[STORED] = stored_checksum(meta, _tensor_hash(tensors, 3))
    return save(tensors, metadata=meta)


def rewrite(path: Path, edit_header=None, edit_tensors=None, rehash: bool = True) -> None:
    """Edit a saved file's header (a dict) or tensors (a dict of tensors) in place."""
    meta, header, tensors = parts(Path(path).read_bytes())
    if edit_header:
        edit_header(header)
    if edit_tensors:
        edit_tensors(tensors)
    Path(path).write_bytes(build(meta, header, tensors, rehash))


def assert_file_scores_as_searched(h, q, path: Path, error: float, trained: dict) -> None:
    """Save ``q`` as a ``native`` file and load it into ``h``'s model: its validation error
    must be the one the search saw. The trained state ``trained`` is put back afterwards."""
    import pytest

    from wsbench import load_state_dict
    from wsbench.codec.compress import CompressedModel

    h.model.load_state_dict(load_state_dict(
        CompressedModel.from_view(h.view, q, "none", "native").save(path)))
    assert 1 - h.score_current("val") == pytest.approx(error, abs=1e-12)
    h.view.restore()
    h.model.load_state_dict(trained)
