"""The plan language: YAML with positions, the model, types, durations, the timeline, the schema."""
