"""The use cases of the inventory service, each one transaction of a unit of work."""
