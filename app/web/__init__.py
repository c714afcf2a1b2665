"""The web layer: routes, pages, websockets and middleware; a request in, a response out.

Owns HTTP and websocket concerns only: who is asking (cookies, admin token), what they may do
(cross-site checks, Host and body limits), and turning the lab's answers into JSON or HTML.
It asks the running layer to start, find or cancel runs. May import every layer below it.
"""
