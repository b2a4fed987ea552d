"""Data access: plain functions over a session. Routes call these; they hold no SQL themselves."""
