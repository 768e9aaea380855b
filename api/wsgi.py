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
from schedules.jobs import Background
from schedules.leader import API

app = create_app()
with app.app_context():
    background = Background(runtime(), role=API)
background.start()
atexit.register(background.stop)
