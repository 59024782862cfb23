"""Files that move under the reader, in the ingest alone: an event names a file already gone; a
file becomes a symlink or a FIFO between lstat and open. The same races against the running
service are in integration/test_badinput.py."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from helpers import make_doc, write
from helpers.corpora import MIB


def test_ingest_of_a_vanished_path_is_a_no_op(tmp_path: Path) -> None:
    """The deterministic form of the race: an event names a file that is already gone."""
    from feedsvc.ingest.ingest import Ingest
    from feedsvc.store.index import Index

    root = tmp_path / "seeds"
    root.mkdir()
    index = Index(tmp_path / "state")
    ingest = Ingest(root, index, pattern="*.txt", max_bytes=MIB)
    write(root, "a.txt", make_doc(1))
    assert ingest.process({"a.txt", "never-existed.txt"}).added == ["a.txt"]
    (root / "a.txt").unlink()
    outcome = ingest.process({"a.txt", "never-existed.txt"})
    assert outcome.removed == ["a.txt"] and not outcome.rejected and not outcome.added
    index.close()


def test_file_swapped_for_symlink_or_fifo_after_lstat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between lstat and open the file becomes a symlink to a secret, or a FIFO: never read, never hangs."""
    from feedsvc.ingest import ingest as ingest_module
    from feedsvc.ingest.ingest import Ingest
    from feedsvc.store.index import Index

    root = tmp_path / "seeds"
    root.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text(make_doc(9, en="SECRET outside the folder"))
    index = Index(tmp_path / "state")
    ingest = Ingest(root, index, pattern="*.txt", max_bytes=MIB)
    real_lstat = os.lstat

    def swapping_lstat(path: Any, *args: Any, **kw: Any) -> os.stat_result:
        result = real_lstat(path, *args, **kw)
        name = Path(path).name
        if name == "swap-link.txt" and not Path(path).is_symlink():
            Path(path).unlink()
            os.symlink(secret, path)
        elif name == "swap-fifo.txt" and not Path(path).is_fifo():
            Path(path).unlink()
            os.mkfifo(path)
        return result

    write(root, "swap-link.txt", make_doc(1))
    write(root, "swap-fifo.txt", make_doc(2))
    monkeypatch.setattr(ingest_module.os, "lstat", swapping_lstat)
    done = threading.Event()
    result: list[Any] = []
    worker = threading.Thread(target=lambda: (result.append(ingest.process({"swap-link.txt", "swap-fifo.txt"})),
                                              done.set()), daemon=True)
    worker.start()
    assert done.wait(10), "reading a FIFO swapped in after lstat hangs the worker"
    outcome = result[0]
    assert not outcome.added and not outcome.changed, outcome
    for path, _doc in [("swap-link.txt", None), ("swap-fifo.txt", None)]:
        assert index.state(path) is None or index.state(path).reason is not None
    assert index.total(None) == 0
    index.close()
