"""The hub's domain: identities, the canonical event and what the store records.

Nothing in this package does I/O; adapters and the application services do.
"""
