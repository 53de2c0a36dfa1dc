"""Atomic file output: every file is written to a temporary name, then all are renamed."""

import contextlib
import os
import tempfile
from pathlib import Path


def write_files(out_dir, files):
    """Write {name: iterable of text chunks} into out_dir; on any error no file is replaced."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    temps = []
    try:
        for name, chunks in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out)
            temps.append((tmp, out / name))
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                for chunk in chunks:
                    fh.write(chunk)
        for tmp, final in temps:
            os.chmod(tmp, 0o644)
            os.replace(tmp, final)
    except BaseException:
        for tmp, _ in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise
    return [str(final) for _, final in temps]
