"""Subscriptions: durable cursors over many streams that wake workers when they have work.

Delivered by signed webhook or by pull-wake (wake events on a stream, claimed by workers).
The state lives in the storage backend and changes in the same transaction as the appends
that cause it; this package holds the backend-independent parts.
"""
