"""The Redis key the event probe writes to: a module of its own, so the test can import it
without loading `event_probe`, whose import subscribes recorders and replaces the kernel
ownership resolver of whatever process loads it."""

PROBE_KEY = "bai:test:agent-events"
