"""Job execution: the in-process queue, Celery tasks, the job runner and the reaper."""
