"""The composition root: the web app, plus the commands that live a layer above it (`flask jobs …`, and the
development tooling's `flask demo-data`). gunicorn serves `app`; `flask` finds it here too."""
from jobs.cli import register_commands
from local.demo import demo_data_command
from webapp import create_app
from webapp.config import runs_on_local_default

if runs_on_local_default():
    # The local default's embedded servers, imported only here: a deployment sets DATABASE_URL and never gets this far.
    from local.launcher import command_config

    app = create_app({"CONFIG": command_config()})
else:
    app = create_app()
register_commands(app)
app.cli.add_command(demo_data_command)
