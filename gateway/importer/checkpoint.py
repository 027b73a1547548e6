"""How far an import got, kept beside the input so a rerun resumes instead of restarting.

`<input>.checkpoint.json`, replaced atomically (write, fsync, rename, fsync the folder) so
a crash leaves the old or the new checkpoint, never half of one. It is only advanced over
records Kafka acknowledged (see publisher.py for what it promises).

A checkpoint belongs to one file and one set of options: resuming another file under the
same name, or with another message type or topic, is refused rather than guessed at.
"""

from __future__ import annotations

__all__ = ["Checkpoint", "CheckpointStore", "FileIdentity", "RunIdentity"]

import contextlib
import hashlib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from gateway.errors import ImportFileError

_VERSION = 1
_HEAD_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """The input file: its size and the SHA-256 of its first MiB (on disk)."""

    size: int
    head_sha256: str

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        """Read the identity of the file at `path`."""
        try:
            with path.open("rb") as f:
                head = f.read(_HEAD_BYTES)
                size = os.fstat(f.fileno()).st_size
        except OSError as exc:
            raise ImportFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
        return cls(size, hashlib.sha256(head).hexdigest())


@dataclass(frozen=True, slots=True)
class RunIdentity:
    """The options that decide where and as what records go; a resume must repeat them."""

    message_type: str
    topic: str
    source_system: str
    agency: str
    connector: str
    service: str | None

    def differences(self, other: RunIdentity) -> list[str]:
        """`name: was -> now` for each option that differs."""
        mine, theirs = asdict(self), asdict(other)
        return [f"{k} {theirs[k]!r} (now {mine[k]!r})" for k in mine if mine[k] != theirs[k]]


@dataclass(slots=True)
class Checkpoint:
    """Everything a resumed run needs; see publisher.py for the invariant it keeps."""

    file: FileIdentity
    run: RunIdentity
    done_through: int = 0
    """Every record with an ordinal up to this one is published (acknowledged) or rejected."""
    offsets: dict[int, int] = field(default_factory=dict)
    """Per partition: no record of this import beyond `done_through` lies before it..."""
    pending: list[str] = field(default_factory=list)
    """...except these, published beyond `done_through` (found by an earlier resume)."""
    published: int = 0
    rejected: int = 0
    skipped: int = 0
    """Records a resume found already on the topic and did not publish again."""
    rejected_bytes: int = 0
    """Size of the rejected file when this checkpoint was written; a resume cuts it back."""
    finished: bool = False

    def to_json(self) -> bytes:
        """The file's content."""
        doc = asdict(self)
        doc["version"] = _VERSION
        doc["offsets"] = {str(p): o for p, o in self.offsets.items()}
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)

    @classmethod
    def from_json(cls, data: bytes) -> Checkpoint:
        """Parse a checkpoint file's content; ValueError if it is not one."""
        doc: dict[str, Any] = orjson.loads(data)
        if doc.pop("version", None) != _VERSION:
            raise ValueError("unknown checkpoint version")
        doc["file"] = FileIdentity(**doc["file"])
        doc["run"] = RunIdentity(**doc["run"])
        doc["offsets"] = {int(p): int(o) for p, o in doc["offsets"].items()}
        return cls(**doc)


class CheckpointStore:
    """The checkpoint file of one input."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Checkpoint | None:
        """The saved checkpoint, or None if there is none; ImportFileError if unreadable."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ImportFileError(f"cannot read the checkpoint {self.path}: "
                                  f"{exc.strerror or exc}") from exc
        try:
            return Checkpoint.from_json(data)
        except (ValueError, TypeError, KeyError) as exc:
            raise ImportFileError(
                f"{self.path} is not a checkpoint of lgsp import ({exc}); move it away to "
                "import the file from the start") from exc

    def save(self, checkpoint: Checkpoint) -> None:
        """Replace the checkpoint durably (atomic rename, then the folder fsynced)."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, checkpoint.to_json())
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            _fsync_dir(self.path.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise ImportFileError(f"cannot write the checkpoint {self.path}: "
                                  f"{exc.strerror or exc}") from exc


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
