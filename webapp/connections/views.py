"""Connections page: connect, reconnect, sync now, recolour and disconnect calendars."""
