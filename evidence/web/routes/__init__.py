"""The app's routers, one module per area."""
