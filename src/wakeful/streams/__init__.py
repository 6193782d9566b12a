"""The Durable Streams layer: append-only, offset-addressed logs served over HTTP."""
