"""What an image declares in its config and history, whatever source it came from."""
