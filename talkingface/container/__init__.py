"""The container side: it runs inside a model image (or a native env made like one), so it may need what only it has."""
