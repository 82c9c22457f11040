"""Patient consent by link: requests, decisions, history and receipts."""
