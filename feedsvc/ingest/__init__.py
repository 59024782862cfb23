"""Reading files into documents: the batch, the parser processes and what they preload."""
