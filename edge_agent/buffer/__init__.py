"""The agent's durable buffer (SQLite): every reading is committed here before anything else, and
leaves only when the collector confirms it stored the batch that carries it."""
