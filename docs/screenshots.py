"""Take the report screenshots of ``docs/screenshots.md`` after ``make demo`` (Debian's headless chromium).

    python docs/screenshots.py [--reports reports] [--out docs/_static]

Each page is loaded from its file (the reports are offline: nothing is fetched), rendered at 1280 × 900
and saved as a 256-colour PNG, so each stays well under 200 KB in git.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

PAGES = {"report-index.png": "index.html", "report-eval.png": "eval/index.html",
         "report-generalization.png": "generalization.html", "report-drift.png": "drift.html"}


def shoot(page: Path, png: Path, *, width: int = 1280, height: int = 900) -> None:
    """Screenshot ``page`` into ``png`` (quantised to 256 colours)."""
    from PIL import Image

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("chromium is not installed (make browser installs Debian's)")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "shot.png"
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={tmp}/profile", f"--window-size={width},{height}",
                        "--virtual-time-budget=8000", f"--screenshot={raw}", page.resolve().as_uri()],
                       check=True, capture_output=True, timeout=120)
        Image.open(raw).convert("RGB").quantize(colors=256).save(png, optimize=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", default="reports")
    ap.add_argument("--out", default=str(Path(__file__).parent / "_static"))
    args = ap.parse_args()
    for png, page in PAGES.items():
        src = Path(args.reports) / page
        if not src.is_file():
            raise SystemExit(f"{src}: missing (run make demo first)")
        out = Path(args.out) / png
        out.parent.mkdir(parents=True, exist_ok=True)
        shoot(src, out)
        print(f"{out}: {out.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
