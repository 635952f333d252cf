"""Reviews of completed orders by their buyers, and the vendor's one reply."""
