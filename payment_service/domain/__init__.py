"""Payments and the simulated gateway's rules: plain Python, no framework import."""
