"""Writing files whole, with their final permissions from the start."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(
    path: Path, content: str | bytes, mode: int = 0o644, *, folder_mode: int = 0o755
) -> None:
    """Write ``path`` whole (readers see the old or the new file). The file is created
    owner-only (mkstemp's 0600) and only then given ``mode``, so a secret is never
    readable by others; a missing folder is made with ``folder_mode``."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=folder_mode)
    data = content.encode() if isinstance(content, str) else content
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        if mode != 0o600:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
