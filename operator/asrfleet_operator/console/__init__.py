"""The management console: a web page over the fleet (every SpeechRecognizer it may see, its
health and live load), a recognizer's conditions, events, pods and charts, Try it (a file or
the live microphone through the recognizer's own API), and scale/suspend actions.

`python -m asrfleet_operator.console --port 8090` with ASRFLEET_CONSOLE_TOKEN set; it finds
the cluster as the operator does. Layout: settings.py (one dataclass), app.py (factory),
routes.py (thin handlers), auth.py (token, CSRF, headers), cluster.py (the API), fleet.py
(the background rounds), load.py and views.py (pure), actions.py and proxy.py.
"""
