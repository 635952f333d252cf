"""The web edge: the ASGI app, middleware, error mapping, templates, CSRF, health."""
