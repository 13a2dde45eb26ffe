"""Ingest of client deliveries from the landing zone (design §4)."""
