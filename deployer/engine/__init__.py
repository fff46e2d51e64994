"""The run engine: the state machine, its journal, waits and hook runner."""
