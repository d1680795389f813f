"""``wsbench decompress FILE -o state.pt``: a compressed file back to a PyTorch state dict."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("decompress", help="decode a compressed file to a PyTorch state dict",
                       description="Decode a .wsb file into a state dict saved with torch.save "
                                   "(load it with torch.load(path, weights_only=True)).")
    p.add_argument("file", type=Path, help="a file written by `wsbench compress`")
    p.add_argument("-o", "--output", type=Path, help="where to save (default: FILE with .pt)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import io

    import torch

    from wsbench.codec.compress import load_state_dict
    from wsbench.commands.outputs import output_file
    from wsbench.files.cache import atomic_write_bytes

    out = args.output if args.output is not None else args.file.with_suffix(".pt")
    output_file(out, "-o" if args.output is not None else "output (FILE with .pt)", [args.file])
    state = load_state_dict(args.file)
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(out, buf.getvalue())
    n = sum(t.numel() for t in state.values())
    print(f"wrote {out} ({len(state)} tensors, {n:,} values)")
    return 0
