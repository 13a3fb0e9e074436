"""Local stand-ins for the providers: emulators of Google and Microsoft, and a Radicale CalDAV server.

They serve the test suite over real HTTP on loopback, and `make run` in sandbox mode.
"""
