"""The 23 towns and streets (镇街) of the city, shared by both campaigns."""
