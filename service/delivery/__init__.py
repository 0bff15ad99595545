"""Delivery: getting each completed checklist version into its site's EHR exactly once (the outbox worker)."""
