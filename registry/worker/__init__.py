"""The job runners: clearance and redaction jobs (`jobs`), the in-process pool (`pool`), the
Celery worker's tasks (`celery_app`) and periodic work (`periodic`). They sit above the domains
whose work they run; sending work lives below them, in `registry.dispatch`."""
