"""The bottom layer: ports (Protocols), the run record, the clock, the stop signal, settings."""
