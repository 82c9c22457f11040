"""Background work: periodic jobs now; the clearance job pool (in-process or Celery) later."""
