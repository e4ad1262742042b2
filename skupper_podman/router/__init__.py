"""skupper-router: the application router of a site (a sans-I/O core and an asyncio driver).

This package depends on nothing else in skupper_podman, so it can ship on its own.
"""

VERSION = "0.1.0"
