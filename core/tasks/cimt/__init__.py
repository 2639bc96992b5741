"""Carotid intima-media thickness (SPEC §1.7)."""
