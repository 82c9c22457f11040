"""Faces and QR codes: pure functions on images and arrays; knows nothing of HTTP or the DB."""
