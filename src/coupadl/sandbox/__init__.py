"""coupadl."""
