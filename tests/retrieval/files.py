"""Small corpus files written by the tests themselves (text, markup, PDF, tables)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def text_pdf(lines: list[str]) -> bytes:
    """A minimal one-page PDF whose text layer holds ``lines`` (Helvetica), with a valid xref."""
    ops = ["BT", "/F1 12 Tf", "72 720 Td", "14 TL"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj T*")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def blank_pdf() -> bytes:
    """A PDF page with no text layer (like a scan)."""
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def write_corpus(root: Path) -> Path:
    """One good file of every supported type under ``root``; returns ``root``."""
    (root / "sub").mkdir(parents=True, exist_ok=True)
    (root / "paris.txt").write_text(
        "Paris is the capital of France. The Eiffel Tower was finished in 1889.\n"
    )
    (root / "sub" / "cats.md").write_text(
        "# Cats\n\nCats are small carnivorous mammals. Domestic cats sleep about 15 hours a day.\n"
    )
    (root / "water.html").write_text(
        "<html><head><title>Water</title><script>var x = 1;</script></head>"
        "<body><h1>Water</h1><p>Water boils at 100 degrees Celsius at sea level.</p></body></html>"
    )
    (root / "moon.pdf").write_bytes(
        text_pdf(["The Moon orbits the Earth.", "Apollo 11 landed on the Moon in 1969."])
    )
    rows = [
        {
            "id": "r-einstein",
            "text": "Albert Einstein published special relativity in 1905.",
            "domain": "science",
            "year": 1905,
        },
        {
            "id": "r-everest",
            "text": "Mount Everest is the highest mountain above sea level.",
            "domain": "geography",
            "year": 1953,
        },
    ]
    (root / "facts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pd.DataFrame(
        [{"id": "c-nile", "text": "The Nile is a major river in Africa.", "domain": "geography"}]
    ).to_csv(root / "rivers.csv", index=False)
    pd.DataFrame(
        [
            {
                "id": "p-gold",
                "text": "Gold has the chemical symbol Au.",
                "domain": "science",
                "year": 0,
            }
        ]
    ).to_parquet(root / "elements.parquet")
    return root
