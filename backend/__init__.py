"""Web backend: upload completion, job status and the Lambda/Celery router.

Run with ``uvicorn backend.app:app``; the Celery worker with
``celery -A backend.tasks worker --pool=solo``. ``lambda_src`` must be on
PYTHONPATH for the worker (the backend never edits sys.path itself).
"""
