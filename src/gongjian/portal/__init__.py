"""The public portal: what the city has published, for citizens, without signing in."""
