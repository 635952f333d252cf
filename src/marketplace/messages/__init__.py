"""Order messages (buyer, vendor; the arbiter once disputed) and listing questions (buyer asks, vendor answers)."""
