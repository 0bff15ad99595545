"""Administration, for admins: sites and their EHR settings, units and their care bundles, users.

``admin_bp`` is the ``/admin`` blueprint (sites and units in :mod:`service.admin.views`, users in
:mod:`service.admin.user_views`); ``register_admin_cli(app)`` adds ``flask sites`` and ``flask units``. The
rules live in :mod:`service.admin.sites` and :mod:`service.admin.accounts`, which both use.
"""

from __future__ import annotations

from service.admin import user_views  # noqa: F401  (adds the users pages to the blueprint)
from service.admin.cli import register_admin_cli
from service.admin.views import bp

admin_bp = bp

__all__ = ["admin_bp", "bp", "register_admin_cli"]
