"""Chaos runs: orders placed while parts of the stack are SIGKILLed, and the verdict after."""
