"""The composition root: the web app, plus the job commands that live a layer above it (`flask jobs …`).
gunicorn serves `app`; `flask` finds it here too."""
from jobs.cli import register_commands
from webapp import create_app
from webapp.config import runs_on_local_default

if runs_on_local_default():
    # Development tooling, imported only here: a deployment sets DATABASE_URL and never gets this far.
    from webapp.local import command_config

    app = create_app({"CONFIG": command_config()})
else:
    app = create_app()
register_commands(app)
