"""Keep an experiment's records in the repository, so its tables outlive the machine that ran it.

    python benchmarks/records.py pack results/suite-codecs   # -> benchmarks/records/suite-codecs.tar.xz
    python benchmarks/records.py unpack suite-codecs         # restore what results/suite-codecs lacks
    python benchmarks/records.py list                        # the packs here, their sizes and trials

``results/`` is git-ignored and a machine can be replaced between sessions; a table of RESULTS.md
whose records are gone can be neither checked nor extended without rerunning every trial. A pack
holds what the report and ``wsbench run`` read back: the folder's header files, ``runs/``,
``exact/``, ``trials/``, ``tracebacks/``, ``best-known/`` and, for the replays, ``landscapes/`` and
``replays.json``; not ``locks/``, ``stale/`` (records of other code, kept only for comparison) nor
a report's outputs. Packs are byte-for-byte deterministic (sorted names, no times or owners), so
repacking unchanged records leaves git nothing to commit.

Unpacking restores only files the folder lacks, never replacing one that is there: records made
here since are newer. ``benchmarks/results.py`` unpacks before it runs or checks an experiment and
packs what it rendered, so ``results.py --check`` on a clean clone compares against these records.
Restored records are checked like any other: one made by other code is stale and is rerun.
"""

from __future__ import annotations

import argparse
import io
import lzma
import sys
import tarfile
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
PACKS = ROOT / "benchmarks" / "records"
FILES = ("experiment.toml", "experiment.json", "reference.json", "run.json", "replays.json")
FOLDERS = ("runs", "exact", "trials", "tracebacks", "best-known", "landscapes")


class PackError(Exception):
    """A pack that cannot be read or written: one line for the user."""


def pack_path(name: str) -> Path:
    return PACKS / f"{name}.tar.xz"


def members(folder: Path) -> list[Path]:
    """The files of a results folder that a pack keeps, sorted (relative paths)."""
    found = [Path(f) for f in FILES if (folder / f).is_file()]
    for sub in FOLDERS:
        # a file being written is named .NAME.tmp-* or .NAME.partial: never packed
        found += sorted(p.relative_to(folder) for p in (folder / sub).rglob("*")
                        if p.is_file() and not p.name.startswith("."))
    return found


def pack(folder: Path, out: Path | None = None) -> Path:
    """Write the folder's records to ``out`` (default: benchmarks/records/<folder name>.tar.xz)."""
    from wsbench.files.cache import atomic_write_bytes

    folder = Path(folder)
    if not (folder / "experiment.json").is_file():
        raise PackError(f"{folder} is not a results folder of `wsbench run` (no experiment.json)")
    out = Path(out) if out else pack_path(folder.name)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in members(folder):
            data = (folder / rel).read_bytes()
            info = tarfile.TarInfo(rel.as_posix())
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, lzma.compress(buf.getvalue(), preset=9 | lzma.PRESET_EXTREME))
    return out


def unpack(archive: Path, folder: Path) -> int:
    """Restore into ``folder`` each packed file it lacks; the number restored."""
    from wsbench.files.cache import atomic_write_bytes

    try:
        raw = lzma.decompress(Path(archive).read_bytes())
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            entries = [(m, tar.extractfile(m).read()) for m in tar.getmembers() if m.isfile()]
    except (OSError, lzma.LZMAError, tarfile.TarError, EOFError) as exc:
        raise PackError(f"{archive} is not a readable records pack: {exc}") from None
    restored = 0
    for info, data in entries:
        rel = PurePosixPath(info.name)
        top = rel.parts[0] if rel.parts else ""
        if rel.is_absolute() or ".." in rel.parts or not (
                (len(rel.parts) == 1 and top in FILES) or (len(rel.parts) > 1 and top in FOLDERS)):
            raise PackError(f"{archive} holds {info.name!r}, which no results folder has: not unpacked")
        target = Path(folder, *rel.parts)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, data)
            restored += 1
    return restored


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="pack a results folder into benchmarks/records/")
    p.add_argument("folder", type=Path)
    p.add_argument("--out", type=Path, help="the pack's path (default: benchmarks/records/NAME.tar.xz)")
    u = sub.add_parser("unpack", help="restore the files a results folder lacks from its pack")
    u.add_argument("name", help="the experiment's name, or a pack's path")
    u.add_argument("--into", type=Path, help="the results folder (default: results/NAME)")
    sub.add_parser("list", help="the packs in benchmarks/records/")
    args = ap.parse_args(argv)
    try:
        if args.command == "pack":
            out = pack(args.folder, args.out)
            print(f"packed {len(members(args.folder))} file(s) of {args.folder} into {out} "
                  f"({out.stat().st_size / 1e3:.0f} kB)")
        elif args.command == "unpack":
            archive = Path(args.name) if args.name.endswith(".tar.xz") else pack_path(args.name)
            name = archive.name.removesuffix(".tar.xz")
            folder = args.into or ROOT / "results" / name
            print(f"restored {unpack(archive, folder)} file(s) into {folder}")
        else:
            for archive in sorted(PACKS.glob("*.tar.xz")):
                print(f"{archive.name}: {archive.stat().st_size / 1e3:.0f} kB")
    except PackError as exc:
        print(f"records.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
