"""The Celery worker adapter: ``python -m cordvault.worker`` consumes insights package jobs."""
