"""Imported once by the parser processes' fork server: the parser, with its language models loaded.

Every parser process forks from that server, so none of them loads the models again, and the
pages holding them (~100 MB) are shared rather than copied per process.
"""

from .language import warm_up
from .reader import parse_document

__all__ = ["parse_document"]

# At once: twice as fast, and this server holds nothing else whose peak it could add to.
warm_up(at_once=True)
