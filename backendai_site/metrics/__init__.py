"""Prometheus metrics of every role (docs/design/0013-metrics.md).

The package imports nothing here: `registry` and `web` serve the web role's `/metrics`, `manager`
holds the scheduler's and coordinator's metrics, `agent` the agent daemon's collector and server.
"""
