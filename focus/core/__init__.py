"""Foundations every stage, method and adapter stands on: box and token-grid geometry (design section 3), the
per-stage cost meter (App. A.2 forward-pass accounting) and the hub probe. Imports nothing else of `focus`."""
