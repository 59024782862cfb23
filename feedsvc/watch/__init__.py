"""Watching the seeds folder: watchdog's observers, proved live, turned into paths ready to read."""
