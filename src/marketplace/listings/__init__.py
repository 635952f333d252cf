"""Listings: what vendors sell, with images, search and browsing."""
