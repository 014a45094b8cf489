"""The multi-agency child safeguarding information-sharing hub."""
