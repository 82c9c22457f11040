"""Uploaded media: content-addressed files, clearance results, review and renditions."""
