"""The agent's configuration, checked before any I/O: ``model`` (what may be written), ``load`` (YAML →
checked, resolved objects: ``resolved``), ``kinds`` (the bus registry: kind → model, device resolution,
driver), ``devices`` (a device spec of each kind → its devices), ``profiles``, ``problems`` (how an
error is told). Nothing past the loader sees a raw dict."""
