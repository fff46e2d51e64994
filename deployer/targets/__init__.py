"""Traffic targets: one module per kind of traffic resource."""
