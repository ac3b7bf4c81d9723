"""Developer tools that ship beside the runtime packages, never inside them."""
