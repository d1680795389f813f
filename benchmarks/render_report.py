"""Screenshots of a report's HTML page in headless Chromium, and a check that nothing is clipped.

    python benchmarks/render_report.py results/quick/report.html --out docs/report-quick \\
        [--width 1400] [--height 900] [--screens 2] [--browser chromium]

Writes ``<out>-1.png``, ``<out>-2.png``, ...: the page in a ``width`` x ``height`` window,
screen after screen, as a reader scrolling it would see them. Then it lays the page out again
in a window of that width and lists every table, figure or code block whose right edge lies
past the window (a clipped or sideways-scrolling element); exit 1 when there is one.
Chromium is not a wsbench dependency: any Chromium or Chrome binary will do (``--browser``).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--force-device-scale-factor=1")
# lists, once the page has loaded, each element wider than the window (its tag, index, edge)
PROBE = """<script>window.addEventListener('load', () => {
  const w = document.documentElement.clientWidth, out = [];
  document.querySelectorAll('table, img, pre, figure').forEach((e, i) => {
    const r = e.getBoundingClientRect();
    if (r.right > w + 0.5) out.push(`${e.tagName.toLowerCase()} #${i}: right edge ${Math.round(r.right)} px`);
  });
  document.body.setAttribute('data-clipped', JSON.stringify({width: w, clipped: out}));
});</script>"""


def screenshots(browser: str, html: Path, out: Path, width: int, height: int,
                screens: int) -> list[Path]:
    """The page in a window ``screens`` screens tall, cut into screens of ``height``."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        shot = Path(tmp) / "page.png"
        _chromium(browser, f"--window-size={width},{height * screens}", f"--screenshot={shot}",
                  html.resolve().as_uri())
        page = Image.open(shot)
        page.load()
    written = []
    out.parent.mkdir(parents=True, exist_ok=True)
    for i in range(screens):
        path = out.parent / f"{out.name}-{i + 1}.png"
        page.crop((0, i * height, width, (i + 1) * height)).save(path)
        written.append(path)
    return written


def clipped(browser: str, html: Path, width: int, height: int) -> tuple[int, list[str]]:
    """The window's width and the elements laid out past it. The page is copied beside itself
    with the probe appended (so its figures still load) and the copy removed afterwards."""
    probe = html.with_name(f".{html.stem}.probe.html")
    probe.write_text(html.read_text(encoding="utf-8") + PROBE, encoding="utf-8")
    try:
        dom = _chromium(browser, f"--window-size={width},{height}", "--virtual-time-budget=5000",
                        "--dump-dom", probe.resolve().as_uri())
    finally:
        probe.unlink(missing_ok=True)
    m = re.search(r"data-clipped=\"([^\"]*)\"", dom)
    if not m:
        raise RuntimeError("the page's layout could not be read back from Chromium")
    found = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    return int(found["width"]), list(found["clipped"])


def _chromium(browser: str, *args: str) -> str:
    done = subprocess.run([browser, *FLAGS, *args], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"{browser} exited with {done.returncode}: {last}")
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("html", type=Path)
    ap.add_argument("--out", type=Path, required=True, help="path prefix of the PNG screens")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--screens", type=int, default=2)
    ap.add_argument("--browser", default="chromium", help="a Chromium or Chrome binary")
    args = ap.parse_args(argv)
    browser = shutil.which(args.browser)
    if browser is None:
        print(f"render_report.py: no browser {args.browser!r} on PATH (name one with --browser)",
              file=sys.stderr)
        return 2
    if not args.html.is_file():
        print(f"render_report.py: no such file: {args.html}", file=sys.stderr)
        return 2
    try:
        written = screenshots(browser, args.html, args.out, args.width, args.height, args.screens)
        width, bad = clipped(browser, args.html, args.width, args.height)
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"render_report.py: {exc}", file=sys.stderr)
        return 2
    for p in written:
        print(p)
    print(f"laid out in a window {width} px wide: "
          + ("nothing clipped" if not bad else f"{len(bad)} element(s) past its edge"))
    for line in bad:
        print(f"  {line}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
