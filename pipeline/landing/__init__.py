"""Landing: files in, before anything is read. `pull` copies exports from object stores into the
landing folder; `walk` surveys it (no symlinks out, names read literally, deliveries); `prescan`
streams each file once (sha256, lines, caps) before DuckDB reads it."""
