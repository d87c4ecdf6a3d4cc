"""Benchmarks and their equipment (a bare discord.py bot for baselines); not part of the product."""
