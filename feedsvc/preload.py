"""Imported once by the parser processes' fork server: the parser, with its language models loaded.

Every parser process forks from that server, so none of them imports the parser or loads the
models again, and the pages holding the models (~100 MB) are shared rather than copied.
"""

from .documents.language import warm_up
from .ingest import load

__all__ = ["load"]

warm_up()
