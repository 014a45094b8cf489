"""Adapters: everything that touches the outside world (agency formats, Kafka, files,
databases, keys) behind small interfaces the application services depend on."""
