"""The order service: takes a customer's ticket order, stores it and starts its saga.

It never decides the flow: the orchestrator reports each order's outcome back to it.
"""
