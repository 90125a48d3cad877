"""Training models: built in a later issue."""
