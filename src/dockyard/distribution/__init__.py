"""The daemon's registry client side: reference resolution, auth, pull and push."""
