"""Find the input Parquet files and check they carry the id and text columns."""

from __future__ import annotations

import glob
from pathlib import Path

GLOB_CHARS = set("*?[")
TEXT_TYPES = ("string", "large_string", "string_view", "null")


class InputError(ValueError):
    """The input files are missing, empty or lack the columns scoring needs."""


def is_uri(path: str) -> bool:
    return "://" in str(path)


def expand_input(input_glob: str | Path | list) -> list[str]:
    """Parquet files for a glob, a directory (every *.parquet below it), a file or a list.

    Local and mounted paths are expanded here, on the driver, so an empty glob fails before
    any worker starts. URIs (s3://, gs://, ...) pass through for pyarrow/Ray to resolve.
    """
    if isinstance(input_glob, (list, tuple)):
        files = [f for item in input_glob for f in expand_input(item)]
        return list(dict.fromkeys(files))
    text = str(input_glob)
    if is_uri(text):
        return [text]
    path = Path(text).expanduser()
    if GLOB_CHARS & set(text):
        files = sorted(p for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
        if not files:
            raise InputError(f"no files match {text!r}")
    elif path.is_dir():
        files = sorted(str(p) for p in path.rglob("*.parquet") if p.is_file())
        if not files:
            raise InputError(f"directory {text} holds no *.parquet files")
    elif path.is_file():
        files = [str(path)]
    else:
        raise InputError(f"input {text} does not exist")
    return [str(Path(f).resolve()) for f in files]


def open_dataset(files: list[str]):
    """A pyarrow dataset over the files, with a clear error for a file that is not Parquet."""
    import pyarrow.dataset as pds

    source = files[0] if len(files) == 1 and is_uri(files[0]) else files
    try:
        return pds.dataset(source, format="parquet")
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise InputError(f"cannot read the input as Parquet: {exc}") from exc


def check_columns(schema, id_col: str, text_col: str) -> None:
    """Both columns present, and the text one a string; the error names what is missing."""
    missing = [c for c in (id_col, text_col) if c not in schema.names]
    if missing:
        raise InputError(
            f"input lacks column(s) {', '.join(missing)}; it has: {', '.join(schema.names)}"
            " (choose others with --id-col / --text-col)"
        )
    text_type = schema.field(text_col).type
    if str(text_type) not in TEXT_TYPES:
        raise InputError(f"column {text_col} must hold text, not {text_type}")
