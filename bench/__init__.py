"""``make bench``: HTTP load on the real server beside a bare FastAPI endpoint (see docs/performance.md).

Run as ``python -m bench``; ``python -m bench --help`` lists the options.
"""
