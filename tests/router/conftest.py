"""Router tests: processes of the router use the shared ``net`` fixture (tests/conftest.py)."""

from __future__ import annotations

import os

os.environ.setdefault("PYTHONUNBUFFERED", "1")
