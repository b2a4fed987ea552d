"""The service's core, shared by the API and the worker: settings, the database and its models, the
services (uploads, regrades, deadlines, grades, the scoreboard, the similarity index) and the job
queue. It knows nothing of HTTP or of Celery's worker; it uses the grader library."""
