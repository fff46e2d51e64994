"""The composition root: rollout, resume, operator requests, emergency rollback, the factory."""
