"""Documents: the digest files editors write, and what the parser makes of them."""
