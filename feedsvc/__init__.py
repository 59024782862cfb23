"""feedsvc: publishes a folder of bilingual press digests as RSS, Atom and JSON Feed."""

__version__ = "0.1.0"
