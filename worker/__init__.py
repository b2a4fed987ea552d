"""The Celery worker: grades queued submissions with the grader and stores the results."""
