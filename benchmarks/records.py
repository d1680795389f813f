"""Keep an experiment's records in the repository, so its tables outlive the machine that ran it.

    python benchmarks/records.py pack results/suite-codecs   # -> benchmarks/records/suite-codecs.tar.xz
    python benchmarks/records.py unpack suite-codecs         # restore what results/suite-codecs lacks
    python benchmarks/records.py list                        # the packs here and their sizes

``results/`` is git-ignored and a machine can be replaced between sessions; a table of RESULTS.md
whose records are gone can be neither checked nor extended without rerunning every trial. A pack
holds what the report and ``wsbench run`` read back: the folder's header files, ``runs/``,
``exact/``, ``trials/``, ``best-known/`` and, for the replays, ``landscapes/`` and
``replays.json``; not ``locks/``, ``stale/`` (records of other code, kept for comparison),
``tracebacks/`` (diagnostics, deleted once a trial succeeds), files being written (a hidden name
or folder, ``*.part``) nor a report's outputs. Packs are byte-for-byte deterministic (sorted
names, no times or owners), and a pack whose records are unchanged is not rewritten (a run that
found everything done adds only its provenance), so git sees a change only when records change.

Pack a folder no run is writing into: ``pack`` refuses one whose trial locks are held, unless
told ``--running`` (a snapshot of the trials finished so far, to keep them safe mid-run).
Unpacking checks every name first, then restores only the files the folder lacks, never
replacing one that is there (records made since are newer); to start a folder afresh, delete
its pack too. ``benchmarks/results.py`` unpacks before it runs or checks an experiment and packs
what it rendered, so ``results.py --check`` on a clean clone compares against these records;
restored records are checked like any other (one made by other code is stale and is rerun).
"""

from __future__ import annotations

import argparse
import io
import lzma
import os
import sys
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from wsbench.errors import WsbenchError

ROOT = Path(__file__).resolve().parent.parent
FILES = ("experiment.toml", "experiment.json", "reference.json", "run.json", "replays.json")
FOLDERS = ("runs", "exact", "trials", "best-known", "landscapes")
PROVENANCE = ("run.json", "runs")  # rewritten by every run, even one that ran nothing
PRESET = 6  # xz's default: about 100 MB to compress, where 9 takes about 700 MB


class PackError(WsbenchError):
    """A pack that cannot be read or written: one line for the user."""


def pack_path(name: str, root: Path = ROOT) -> Path:
    """Where the records of experiment ``name`` are kept in the repository at ``root``."""
    return Path(root) / "benchmarks" / "records" / f"{name}.tar.xz"


def _unfinished(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts) or rel.suffix in (".part", ".partial")


def members(folder: Path) -> list[Path]:
    """The files of a results folder that a pack keeps, sorted (relative paths)."""
    found = [Path(f) for f in FILES if (folder / f).is_file()]
    for sub in FOLDERS:
        found += sorted(rel for rel in (p.relative_to(folder) for p in (folder / sub).rglob("*")
                                        if p.is_file()) if not _unfinished(rel))
    return found


def _busy(folder: Path) -> list[str]:
    from wsbench.experiments.locking import is_free

    return [p.name for p in sorted((folder / "locks").glob("*.lock")) if not is_free(p)]


def _read(path: Path) -> dict[str, bytes]:
    """A pack's files by name, every name checked before any is returned."""
    try:
        with tarfile.open(path, mode="r:xz") as tar:
            entries = {}
            for info in tar:
                rel = PurePosixPath(info.name)
                top = rel.parts[0] if rel.parts else ""
                if (not info.isfile() or rel.is_absolute() or ".." in rel.parts
                        or not ((len(rel.parts) == 1 and top in FILES)
                                or (len(rel.parts) > 1 and top in FOLDERS))):
                    raise PackError(f"{path} holds {info.name!r}, which no results folder has: "
                                    f"nothing unpacked")
                entries[info.name] = tar.extractfile(info).read()
            return entries
    except (OSError, lzma.LZMAError, tarfile.TarError, EOFError) as exc:
        raise PackError(f"{path} is not a readable records pack: {exc}") from None


def pack(folder: Path, out: Path | None = None, running: bool = False) -> tuple[Path, bool]:
    """Write the folder's records to ``out`` (default: its pack in this repository); and
    whether it was written (False: the pack already holds these records). ``running`` packs a
    folder a run is writing into: a snapshot of the trials finished so far (each record is
    written whole), for safekeeping, not to go with a table."""
    from wsbench.files.cache import atomic_write_bytes
    from wsbench.files.safe_io import read_regular_file

    folder = Path(folder)
    if not (folder / "experiment.json").is_file():
        raise PackError(f"{folder} is not a results folder of `wsbench run` (no experiment.json)")
    if not running and (busy := _busy(folder)):
        raise PackError(f"{folder} is being written ({len(busy)} trial lock(s) held, e.g. "
                        f"{busy[0]}): pack it when the run is over")
    out = Path(out) if out else pack_path(folder.name)
    files = {rel.as_posix(): read_regular_file(folder / rel, PackError, "record", limit=1 << 31)
             for rel in members(folder)}
    if out.is_file():
        def records(entries: dict[str, bytes]) -> dict[str, bytes]:
            return {k: v for k, v in entries.items() if k.split("/")[0] not in PROVENANCE}

        if records(_read(out)) == records(files):
            return out, False
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, lzma.compress(buf.getvalue(), preset=PRESET))
    return out, True


def unpack(archive: Path, folder: Path) -> int:
    """Restore into ``folder`` each packed file it lacks; the number restored."""
    entries = _read(Path(archive))
    restored = 0
    for name, data in entries.items():
        target = Path(folder, *PurePosixPath(name).parts)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists():
                restored += _create(target, data)
        except OSError as exc:
            raise PackError(f"cannot restore {target} from {archive}: {exc.strerror or exc}") from None
    return restored


def _create(target: Path, data: bytes) -> int:
    """Write ``target`` whole, unless a file appeared there meanwhile (a run's newer record)."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name[:200]}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.link(tmp, target)  # unlike a rename, fails where the name exists
        return 1
    except FileExistsError:
        return 0
    finally:
        os.unlink(tmp)


def restore(name: str, root: Path = ROOT) -> Path:
    """results/NAME under ``root``, with what it lacks restored from its pack (if any)."""
    folder, archive = Path(root) / "results" / name, pack_path(name, root)
    if archive.is_file():
        try:
            n = unpack(archive, folder)
        except PackError as exc:
            raise SystemExit(f"results.py: {exc}") from None
        if n:
            print(f"restored {n} file(s) of results/{name} from {archive}", file=sys.stderr)
    return folder


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="pack a results folder into benchmarks/records/")
    p.add_argument("folder", type=Path)
    p.add_argument("--out", type=Path, help="the pack's path (default: benchmarks/records/NAME.tar.xz)")
    p.add_argument("--running", action="store_true",
                   help="pack while a run is still writing into the folder: the trials finished so far")
    u = sub.add_parser("unpack", help="restore the files a results folder lacks from its pack")
    u.add_argument("name", help="the experiment's name, or a pack's path")
    u.add_argument("--into", type=Path, help="the results folder (default: results/NAME)")
    sub.add_parser("list", help="the packs in benchmarks/records/")
    args = ap.parse_args(argv)
    try:
        if args.command == "pack":
            out, written = pack(args.folder, args.out, running=args.running)
            print(f"{'packed' if written else 'unchanged:'} {args.folder} -> {out} "
                  f"({out.stat().st_size / 1e3:.0f} kB)")
        elif args.command == "unpack":
            archive = Path(args.name) if args.name.endswith(".tar.xz") else pack_path(args.name)
            folder = args.into or ROOT / "results" / archive.name.removesuffix(".tar.xz")
            print(f"restored {unpack(archive, folder)} file(s) into {folder}")
        else:
            for archive in sorted(pack_path("x").parent.glob("*.tar.xz")):
                print(f"{archive.name}: {archive.stat().st_size / 1e3:.0f} kB")
    except PackError as exc:
        print(f"records.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
