"""Seed the browser tests' live server: one site with one unit offering every shipped care bundle.

Run as a subprocess by ``tests/browser/conftest.py`` with the live server's environment (``CARELOOP_ENV``,
``CARELOOP_SECRET_KEY``, ``CARELOOP_DATABASE_URL``), after ``flask db upgrade`` and before ``flask users``
makes the clinician who works there. Usage: ``python tests/browser/seed.py SITE_CODE UNIT_CODE``.
"""

from __future__ import annotations

import sys

from service import create_app
from service.care_bundles import current_catalogue
from service.extensions import db
from service.models import Site, Unit


def main(site_code: str, unit_code: str) -> None:
    app = create_app()
    with app.app_context():
        unit = Unit(
            site=Site(code=site_code, name="Browser Test NHS Trust"), code=unit_code, name="Browser Test Ward"
        )
        unit.care_bundle_ids.extend(sorted({entry.care_bundle.id for entry in current_catalogue()}))
        db.session.add(unit)
        db.session.commit()
        print(f"seeded {site_code}/{unit_code}: {', '.join(unit.care_bundle_ids)}")
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main(*sys.argv[1:3])
