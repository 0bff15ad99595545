"""Database tables (placeholder: the data-model work replaces this module)."""
