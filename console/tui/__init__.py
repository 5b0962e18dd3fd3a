"""The Textual face: app, screens, widgets. Thin over ``console.core``."""
