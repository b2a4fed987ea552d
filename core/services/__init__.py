"""The service's operations: plain functions over a session that take and return domain objects and
raise domain errors (core/errors.py). Routes, the CLI and the tasks call these; they hold no SQL."""
