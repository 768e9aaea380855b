"""The WSGI entry point for gunicorn: ``gunicorn -c gunicorn.conf.py api.wsgi:app``.

Importing this module in a worker builds the app and starts the worker's safety-path
threads: the outbox dispatcher and a standby for the timers, which takes over when no
scheduler's heartbeat has been seen for 30 s (see schedules/leader.py). The shipped
gunicorn.conf.py imports the app in each worker (no preload), after the fork, so the
threads live in the worker that serves.
"""

import atexit

from api.app import create_app
from api.extensions import runtime
from api.logs import configure_logging
from config import load_settings
from schedules.jobs import Background
from schedules.leader import API

settings = load_settings()
configure_logging(settings.log_level)
app = create_app(settings)
with app.app_context():
    background = Background(runtime(), role=API)
background.start()
atexit.register(background.stop)
