"""Imported once by the parser processes' fork server: the parser, with its language models loaded.

Every parser process forks from that server, so none of them imports the parser or loads the
models again, and the pages holding the models are shared rather than copied (the server holds
~126 MiB after loading, as last measured: bench/history.md).
"""

import gc

from feedsvc.documents import words
from feedsvc.documents.language import warm_up
from feedsvc.ingest.ingest import load
from feedsvc.ingest.pool import die_with_parent
from feedsvc.ops import memory

__all__ = ["load"]

# The fork server is the service's child: it goes when the service goes, however it dies.
die_with_parent()
# lingua loads the two Cyrillic models on threads of its own; in arenas of their own, they left
# ~15 MB of fragments that every parser process then shared: 107 MB after loading, not 92. One
# arena costs ~0.1 s of loading, beside the service's own start.
memory.one_arena()
warm_up()
words.warm_up()
# What loading left behind goes back to the system (~13 MB of freed heap) rather than into every
# child; what stays is frozen, so a child's collections never write to (and so copy) its pages.
gc.collect()
gc.freeze()
memory.trim()
