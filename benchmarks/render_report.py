"""Render a report's HTML page as screens of a given width, without a browser.

    pip install weasyprint pypdfium2      # not a wsbench dependency: a one-off tool
    python benchmarks/render_report.py results/quick/report.html --out docs/report-quick \\
        [--width 1400] [--height 900] [--screens 2]

Writes ``<out>-1.png``, ``<out>-2.png``, ...: the page laid out at ``width`` CSS pixels and cut
into screens of ``height``, as a reader scrolling a browser window of that size would see them
(only the first page of the layout: what lies below ``screens`` screens is not drawn).
No browser could be installed where this was written, so this is WeasyPrint's CSS layout
(tables, wrapping, images), not Chromium's; it shows what is on the first screen and whether any
table is wider than the window (a wider table runs past the right edge of the image). It also
prints the widest box it laid out, so a script can check that nothing is clipped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def render(html: Path, out: Path, width: int, height: int, screens: int) -> tuple[list[Path], float]:
    """The screens written, and the widest laid-out box in CSS pixels. The page is laid out as
    one sheet ``screens`` screens tall (so no figure is pushed to a new page, as a browser
    never does) and cut into screens."""
    import pypdfium2
    import weasyprint

    page = f"@page {{ size: {width}px {height * screens}px; margin: 0 }} body {{ margin: 8px }}"
    doc = weasyprint.HTML(filename=str(html)).render(stylesheets=[weasyprint.CSS(string=page)])
    widest = max((_widest(p._page_box) for p in doc.pages), default=0.0)
    sheet = pypdfium2.PdfDocument(doc.write_pdf())[0].render(scale=96 / 72).to_pil()
    written = []
    for i in range(screens):
        path = out.parent / f"{out.name}-{i + 1}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        sheet.crop((0, i * height, width, (i + 1) * height)).save(path)
        written.append(path)
    return written, widest


def _widest(box) -> float:
    """The right edge of the furthest box (CSS px) in a laid-out page."""
    edge = (box.position_x or 0) + (box.margin_width() if hasattr(box, "margin_width") else 0)
    children = getattr(box, "children", None) or []
    return max([edge] + [_widest(c) for c in children])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("html", type=Path)
    ap.add_argument("--out", type=Path, required=True, help="path prefix of the PNG screens")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--screens", type=int, default=2)
    args = ap.parse_args(argv)
    try:
        written, widest = render(args.html, args.out, args.width, args.height, args.screens)
    except (ImportError, OSError) as exc:
        print(f"render_report.py: {exc}", file=sys.stderr)
        return 2
    for p in written:
        print(p)
    print(f"widest box: {widest:.0f} px of {args.width}"
          + (" (a table runs past the window)" if widest > args.width + 0.5 else " (nothing clipped)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
