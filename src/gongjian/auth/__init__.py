"""Users, roles, actions and the one permission check every read and write passes."""
