"""Compliance for QI leads (issue 11): counts per period from the stored outcomes (``counts``), the periods
(``periods``), and, on top, the charts (``service.spc``), the API, CSV and ``MeasureReport``."""
