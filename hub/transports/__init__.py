"""Transports that carry canonical events from agencies to the ingest core."""
