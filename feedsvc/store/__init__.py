"""The SQLite index of documents, the journal of first-seen dates, and the thread that writes them."""
