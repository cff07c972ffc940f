"""The web application: app factory, middleware, error pages, shared dependencies."""
