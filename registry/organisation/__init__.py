"""The organisation running the service: the controller named to patients and attendees."""
