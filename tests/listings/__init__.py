"""Tests of the listings domain: pages, API, images, search."""
