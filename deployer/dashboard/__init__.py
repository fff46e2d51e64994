"""The local dashboard (SPEC §12): runs in the store, a live run page, operator buttons."""
