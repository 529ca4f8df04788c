"""The web layer: app factory, routes per audience, templates, middleware, translations. Nothing imports it."""
