"""Rendering the views a change touched, once, and keeping the bytes every request is served from."""
