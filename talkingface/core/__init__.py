"""The shared core: standard library only, so the host (python3 alone) and the images run the same code."""
