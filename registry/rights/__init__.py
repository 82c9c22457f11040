"""People's rights over what the registry holds about them: access (exports) so far."""
