"""The similarity check: the engine (fingerprints of code, pure), the archives of earlier semesters'
handins (corpus), and the index in the database that finds similar pairs."""
