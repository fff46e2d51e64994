"""A local AWS (moto) and the worlds the demo scenarios and end-to-end tests need."""
