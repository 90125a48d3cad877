"""Volunteers models: built in a later issue."""
