"""Imported once by the parser processes' fork server: the parser, with its language models loaded.

Every parser process forks from that server, so none of them imports the parser or loads the
models again, and the pages holding the models (~100 MB) are shared rather than copied.
"""

from .documents import words
from .documents.language import warm_up
from .ingest import load
from .pool import die_with_parent

__all__ = ["load"]

# The fork server is the service's child: it goes when the service goes, however it dies.
die_with_parent()
warm_up()
words.warm_up()
