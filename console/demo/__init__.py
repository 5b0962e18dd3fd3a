"""The live demo: a local environment on the real engines, and its scenarios."""
