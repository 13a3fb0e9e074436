"""What the emulators' consent pages share: a plain style close to the real ones, a line saying the accounts are
pretend, and each scope in words (the real pages never show scope URLs)."""
from __future__ import annotations

STYLE = """
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f1f1f;
  background: #f0f4f9; }
main { max-width: 28rem; margin: 3rem auto; background: #fff; border-radius: 20px; padding: 2rem 2.25rem;
  box-shadow: 0 1px 3px rgba(0, 0, 0, .12); }
.brand { font-weight: 600; color: #444746; margin: 0 0 1rem; display: flex; align-items: center; gap: .5rem; }
.brand-mark { display: inline-flex; width: 1.6rem; height: 1.6rem; border-radius: 50%; align-items: center;
  justify-content: center; color: #fff; font-weight: 700; }
h1 { font-size: 1.45rem; font-weight: 500; margin: 0 0 1rem; }
.pretend { background: #fef7e0; border-radius: 8px; padding: .5rem .75rem; font-size: .9rem; margin: 0 0 1rem; }
label { display: block; font-weight: 500; margin: 1rem 0 .25rem; }
select { width: 100%; font: inherit; padding: .55rem; border: 1px solid #747775; border-radius: 4px; }
ul { padding-left: 1.2rem; margin: .25rem 0 1rem; }
li { margin: .3rem 0; }
.actions { display: flex; justify-content: flex-end; gap: .75rem; margin-top: 1.5rem; }
button { font: inherit; font-weight: 500; border-radius: 20px; padding: .5rem 1.4rem; cursor: pointer;
  border: 1px solid #747775; background: #fff; color: #0b57d0; }
button.primary { background: #0b57d0; border-color: #0b57d0; color: #fff; }
"""

PRETEND = "Sandbox: a pretend account on this machine. Nothing here is a real Google or Microsoft account."

_WORDS = {
    "openid": "Know who you are",
    "email": "See your email address",
    "profile": "See your name",
    "userinfo.email": "See your email address",
    "userinfo.profile": "See your name",
    "calendar": "See, edit, share and delete all your calendars",
    "calendar.readonly": "See all your calendars",
    "calendar.events": "See and edit events on all your calendars",
    "calendar.events.owned": "See, create, change and delete events on calendars you own",
    "calendar.events.readonly": "See events on all your calendars",
    "calendar.calendarlist": "See, add and remove the calendars you subscribe to",
    "calendar.calendarlist.readonly": "See the list of calendars you subscribe to",
    "calendar.settings.readonly": "See your calendar settings",
    "offline_access": "Keep access to what you allow here",
    "user.read": "Sign you in and read your profile",
    "calendars.readwrite": "Read and write your calendars",
    "calendars.read": "Read your calendars",
}


def scope_words(scope: str) -> str:
    """ "https://www.googleapis.com/auth/calendar.events" -> "See and edit events on all your calendars"."""
    name = scope.rsplit("/", 1)[-1].lower()
    return _WORDS.get(name, name.replace(".", " ").replace("_", " ").capitalize())
