"""``bench/`` holds scripts run from the repository root (``python -m bench.NAME``), not an installed package:
importable here as it is there."""

from __future__ import annotations

import sys
from pathlib import Path

PROJECT_ROOT = str(Path(__file__).resolve().parents[2])
if PROJECT_ROOT not in sys.path:
    sys.path.insert(0, PROJECT_ROOT)
