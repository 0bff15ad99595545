"""The ward pages, for midwives and ward staff on tablets: worklist, start, the checklist, history."""

from __future__ import annotations

from service.ward.views import bp

__all__ = ["bp"]
