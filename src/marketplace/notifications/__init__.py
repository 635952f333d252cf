"""In-app notifications: one row per user concerned by an order's change, a message or a review."""
