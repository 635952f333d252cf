"""Administration: suspending accounts and hiding listings, each action on the record."""
