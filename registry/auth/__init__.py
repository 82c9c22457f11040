"""Staff users, passwords, tokens and page sessions."""
