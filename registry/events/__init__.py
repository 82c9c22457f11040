"""Events, filming notices, bookings and photo opt-outs."""
