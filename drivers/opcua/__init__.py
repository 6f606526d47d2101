"""OPC-UA: ``config`` (what a server, device and point are; node ids and browse paths parsed), ``codec``
(a node's value to a point's value, pure), ``client`` (the only module doing I/O and importing asyncua)."""
