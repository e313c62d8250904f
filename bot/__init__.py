"""newsbrief: the core briefing engine. It never imports a chat adapter."""

__version__ = "0.1.0"
