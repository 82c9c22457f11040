"""Imported by the worker pool's fork server before it forks any worker: the face models are
loaded once there, so every worker process (and every one restarted after a crash) starts with
them in memory, shared copy-on-write, instead of loading them on its first photo."""

from __future__ import annotations

from registry.vision import faces

faces.load_models()
