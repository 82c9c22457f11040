"""Reading the PDFs the registry writes with poppler (poppler-utils), as a viewer would."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from PIL import Image

from tests.required import missing


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        missing(f"{tool} not found (apt-get install poppler-utils)")


def render_pdf(pdf: bytes, tmp_path: Path, dpi: int = 150) -> list[Image.Image]:
    """Every page of the PDF as an image, rendered by pdftoppm."""
    _need("pdftoppm")
    source = tmp_path / "document.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", str(source), str(tmp_path / "page")],
        check=True,
        timeout=120,
    )
    return [Image.open(p) for p in sorted(tmp_path.glob("page-*.png"))]


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    """The text of the PDF as pdftotext extracts it (what search and screen readers get)."""
    _need("pdftotext")
    source = tmp_path / "document.pdf"
    source.write_bytes(pdf)
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(source), "-"],
        check=True,
        timeout=60,
        capture_output=True,
    )
    return result.stdout.decode()
