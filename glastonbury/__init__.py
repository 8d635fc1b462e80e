"""Shared kernel of the Glastonbury services: settings, database engines, HTTP errors, Kafka.

Nothing here holds business rules; each service owns its domain and its data.
"""
