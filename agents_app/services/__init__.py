"""Writes of the agents app, one module per entity (agents, images, registries, commands)."""
