"""Evidence models: built in a later issue."""
