"""Agency format adapters: each reads one kind of agency system's native export and produces
canonical events. `ADAPTERS` names them for the CLI."""
