"""Sending work to the workers, from any layer: the broker's client side (`broker`), face
detection a request waits for (`compute`) and the jobs a unit of work queues for after its
commit (`queue`). Nothing here imports a domain or the job runners in `registry.worker`."""
