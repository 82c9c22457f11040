"""Email to people and staff: an outbox written in the sender's transaction, composed from
templates when sent."""
