"""The aiohttp application: routes, conditional GET, the connection guard, the newsroom pages."""
