"""The agent's configuration: ``model`` (what may be written) and ``load`` (YAML → checked, resolved
objects, before any I/O). Nothing past the loader sees a raw dict."""
