"""The demo's own input, generated rather than shipped, so `make demo` needs no media download or real footage."""
