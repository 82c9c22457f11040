"""Whole journeys across features, in a real browser (`tests.browser`) against a real server on
the suite's database (a SQLite file, or a database of its own on the suite's PostgreSQL server):
unlike tests/e2e/, these run in both CI runs."""
