"""Display adapters of the Observer port: the live terminal view and plain lines."""
