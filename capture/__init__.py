"""Image → credential data. Pure: takes bytes, returns typed results; no web, no database."""
