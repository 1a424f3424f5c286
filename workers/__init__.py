"""The Celery edge: tasks that take ids, open the container, and call one ``app`` function."""
