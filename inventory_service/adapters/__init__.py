"""SQLAlchemy tables and the repositories that read and write them."""
