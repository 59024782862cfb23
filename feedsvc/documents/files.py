"""Document files: which names are documents, and reading one safely (bounded, never via a symlink)."""

from __future__ import annotations

import fnmatch
import os
import pathlib
import stat
from collections.abc import Callable

from .model import Document, Ignored, Reason, ReasonKind, Rejected
from .parse import DEFAULT_MAX_BYTES, parse_document

# The default of FEEDSVC_PATTERN; settings takes it from here.
DEFAULT_PATTERN = "*.txt"

# The editors' drafts folder: a folder of this name, at any depth under the seeds folder, is never
# published (a desk's drafts sit beside its published folder, and moving a file out of its drafts
# keeps the rest of its path, hence its id). `feedsvc check` still checks a file in it, named.
DRAFTS = "_drafts"
DRAFT_REASON = f"a draft (inside {DRAFTS}/): not published until it is moved out of {DRAFTS}/"

_HIDDEN_EDITOR: tuple[tuple[Callable[[str], bool], str], ...] = (
    (lambda n: n.startswith(".~lock.") and n.endswith("#"), "LibreOffice lock file"),
    (lambda n: n.startswith("."), "hidden file"),
    (lambda n: n.endswith((".swp", ".swo", ".swx")), "editor swap file"),
    (lambda n: n.endswith("~"), "editor backup file"),
    (lambda n: n.startswith("#") and n.endswith("#"), "editor auto-save file"),
)


def classify(relpath: str, pattern: str = DEFAULT_PATTERN) -> str | None:
    """Why the file at `relpath` (posix, relative to the root) is not a document, or None."""
    parts = [p for p in relpath.split("/") if p not in ("", ".")]
    if not parts:
        return "empty path"
    name = parts[-1]
    for folder in parts[:-1]:
        if folder.startswith("."):
            return f"inside hidden folder {folder!r}"
    if DRAFTS in parts[:-1]:
        return DRAFT_REASON
    for test, reason in _HIDDEN_EDITOR:
        if test(name):
            return reason
    target = "/".join(parts) if "/" in pattern else name
    if not fnmatch.fnmatchcase(target, pattern):
        return f"name does not match {pattern!r}"
    return None


def skipped_folder(name: str) -> bool:
    """Whether a folder of this name is never walked for documents: hidden, or a drafts folder."""
    return name.startswith(".") or name == DRAFTS


def is_draft(path: str | os.PathLike[str]) -> bool:
    """Whether a file at `path` (relative or absolute) sits in a drafts folder."""
    return DRAFTS in pathlib.PurePath(path).parts[:-1]


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)} | {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}


def shown(path: str) -> str:
    """A file name as it may be shown in a log line or a page: bytes that are not UTF-8 as \\xNN,
    control characters escaped, so a name can never forge a line or break an encoder."""
    text = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text.translate(_CONTROL)


def name_problem(relpath: str) -> Reason | None:
    """Why a file's name cannot be published (an id, a URL, a row need UTF-8), or None."""
    try:
        relpath.encode("utf-8")
    except UnicodeEncodeError:
        return Reason(ReasonKind.UNSAFE_NAME, f"file name is not valid UTF-8 ({shown(relpath)}); rename it")
    return None


SYMLINK = Reason(ReasonKind.SYMLINK, "symbolic link: not followed, not published")
NOT_REGULAR = Reason(ReasonKind.NOT_REGULAR, "not a regular file")


def read_bounded(path: str | os.PathLike[str], max_bytes: int) -> tuple[bytes, os.stat_result]:
    """At most max_bytes + 1 bytes of a regular file, never through a symlink, and its stat after."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)  # O_NOFOLLOW/O_NONBLOCK: a swapped-in symlink or FIFO cannot hang us
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Rejected(NOT_REGULAR)
        # Buffers of the file's size, not of the limit: a 1 MiB buffer per read costs more than
        # the read; the +1 shows a file that grew past its stat.
        size = min(st.st_size + 1, max_bytes + 1)
        chunks: list[bytes] = []
        remaining = max_bytes + 1
        while remaining > 0 and (chunk := os.read(fd, want := min(remaining, size))):
            chunks.append(chunk)
            remaining -= len(chunk)
            if len(chunk) < want:  # a regular file reads short only at its end: skip the empty read
                break
        return b"".join(chunks), os.fstat(fd)
    finally:
        os.close(fd)


def read_document(
    path: pathlib.Path, root: pathlib.Path, *, pattern: str = DEFAULT_PATTERN, max_bytes: int = DEFAULT_MAX_BYTES
) -> Document:
    """The Document at `path` under `root`; raises Ignored or Rejected with a reason."""
    try:
        relpath = path.relative_to(root).as_posix()
    except ValueError:
        raise Rejected(Reason(ReasonKind.OUTSIDE_ROOT, f"not under the documents folder {str(root)!r}")) from None
    if (reason := classify(relpath, pattern)) is not None:
        raise Ignored(reason)
    try:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            raise Rejected(SYMLINK)
        if not stat.S_ISREG(mode):
            raise Rejected(NOT_REGULAR)
        folders = [root / p for p in pathlib.PurePath(relpath).parents if p.parts]
        if any(folder.is_symlink() for folder in folders):
            raise Rejected(Reason(ReasonKind.SYMLINK, "inside a symbolically linked folder"))
        data, _ = read_bounded(path, max_bytes)
    except OSError as error:
        raise Rejected(Reason(ReasonKind.UNREADABLE, f"cannot read: {error.strerror or error}")) from None
    return parse_document(data, relpath, max_bytes=max_bytes)
