"""The command line: `feedsvc serve`, `feedsvc parse`, `feedsvc check`."""
