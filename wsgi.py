"""The composition root: the web app, plus the job commands that live a layer above it (`flask jobs …`)."""
from jobs.cli import register_commands
from webapp import create_app

app = create_app()
register_commands(app)
