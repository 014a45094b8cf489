"""The HTTP API and server-rendered pages (FastAPI): the same store, decision point and audit
as the CLI, behind authenticated, purpose-declaring requests."""
