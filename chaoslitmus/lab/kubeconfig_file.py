"""The file `chaoslitmus lab up --kubeconfig FILE` writes, and only that file.

A kubeconfig path often names something precious (`~/.kube/config`), so the
lab creates the file only if nothing is there (atomically, O_EXCL), refuses
a directory or a missing folder in one line, and on stop removes what it
created. `--force` lets it replace an existing file; the replaced content is
put back on stop. Either way the lab leaves alone a file that changed since
it wrote it: that change is someone else's.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from chaoslitmus.lab.options import LabError

__all__ = ["KubeconfigFile"]

log = logging.getLogger("chaoslitmus.lab")


@dataclass
class KubeconfigFile:
    """A claim on `path`; `claim()` checks, `write()` writes, `release()` undoes."""

    path: Path
    force: bool = False
    _previous: bytes | None = field(default=None, repr=False)
    _previous_mode: int | None = field(default=None, repr=False)
    _written: bytes | None = field(default=None, repr=False)

    @classmethod
    def claim(cls, path: str | Path, force: bool = False) -> KubeconfigFile:
        """Check `path` can be written; LabError (one line) if not."""
        target = Path(path).expanduser()
        if target.is_dir():
            raise LabError(
                f"--kubeconfig {target} is a directory: name a file for the lab "
                f"to create, e.g. {target / 'lab-kubeconfig'}"
            )
        if not target.parent.is_dir():
            raise LabError(
                f"--kubeconfig {target}: the folder {target.parent} does not exist"
            )
        if (target.exists() or target.is_symlink()) and not force:
            raise LabError(
                f"--kubeconfig {target} already exists and the lab did not create "
                "it: name a new file, or add --force to replace it until the lab "
                "stops (its content is put back then)"
            )
        return cls(target, force)

    def write(self, text: str) -> Path:
        """Create the file (or, forced, replace it, keeping what was there)."""
        data = text.encode("utf-8")
        if self.force and self.path.exists():
            self._previous = self.path.read_bytes()
            self._previous_mode = self.path.stat().st_mode & 0o777
            flags = os.O_WRONLY | os.O_TRUNC
        else:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        try:
            fd = os.open(self.path, flags, 0o600)
        except FileExistsError:
            raise LabError(
                f"--kubeconfig {self.path} appeared while the lab was starting: "
                "name a new file, or add --force"
            ) from None
        except OSError as exc:
            raise LabError(
                f"--kubeconfig {self.path}: cannot write ({exc.strerror or exc})"
            ) from None
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        self._written = data
        return self.path

    def release(self) -> None:
        """Remove the file the lab created, or put back what --force replaced;
        leave it be if it changed since the lab wrote it. Safe to call twice."""
        written, self._written = self._written, None
        if written is None:
            return
        try:
            current = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("left %s as it is: cannot read it (%s)", self.path, exc)
            return
        if current != written:
            log.warning(
                "left %s as it is: it changed since the lab wrote it", self.path
            )
            return
        if self._previous is None:
            self.path.unlink(missing_ok=True)
            return
        self.path.write_bytes(self._previous)
        if self._previous_mode is not None:
            os.chmod(self.path, self._previous_mode)
        log.info("put back the previous content of %s", self.path)
