"""The durable LLM tool loop that runs inside an entity handler."""
