"""Writes of the storage app: folders, files, sharing, transfer tokens, mounts, clone."""
