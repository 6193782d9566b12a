"""The HTTP face of the streams layer (the Durable Streams protocol)."""
