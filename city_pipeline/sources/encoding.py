"""Text encodings of Thai government files: UTF-8 with a BOM, plain UTF-8, or TIS-620.

Thai agencies still publish CSV/TXT in TIS-620 (Windows code page 874, its superset, is what Excel
writes). DuckDB's CSV reader only takes UTF-8 here, so such files are decoded once, whole, and
written as a UTF-8 copy beside the work; already-UTF-8 files are read in place.
"""

from __future__ import annotations

import codecs
from pathlib import Path

UTF8_BOM = codecs.BOM_UTF8
UTF8_SIG = "utf-8-sig"
UTF8 = "utf-8"
CP874 = "cp874"  # Windows-874: TIS-620 plus a few punctuation marks in 0x80-0x9F


def detect_encoding(data: bytes) -> str:
    """`utf-8-sig`, `utf-8` or `cp874`.

    Thai letters in TIS-620 are single bytes 0xA1-0xFB, which almost never form valid UTF-8
    sequences, so "decodes as UTF-8" is a reliable test. Raises UnicodeDecodeError when the bytes
    are neither UTF-8 nor cp874 (the caller turns it into a SourceError naming the file).
    """
    if data.startswith(UTF8_BOM):
        data[len(UTF8_BOM) :].decode(UTF8)  # a BOM followed by invalid UTF-8 is still an error
        return UTF8_SIG
    try:
        data.decode(UTF8)
        return UTF8
    except UnicodeDecodeError:
        data.decode(CP874)
        return CP874


def decode_text(data: bytes) -> tuple[str, str]:
    """The text (without a BOM) and the encoding it was found in."""
    encoding = detect_encoding(data)
    return data.decode(encoding), encoding


def utf8_path(path: Path, workdir: Path) -> tuple[Path, str]:
    """A path DuckDB can read as UTF-8: `path` itself if it already is, else a decoded copy in
    `workdir` (same file name). Returns the path and the encoding the original was in."""
    data = path.read_bytes()
    encoding = detect_encoding(data)
    if encoding == UTF8:
        return path, encoding
    target = workdir / path.name
    target.write_text(data.decode(encoding), encoding=UTF8, newline="")
    return target, encoding
