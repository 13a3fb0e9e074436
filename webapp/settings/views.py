"""Profile, time zone and week-start settings (the sessions page lives with auth)."""
