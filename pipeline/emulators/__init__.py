"""Emulators of the platforms' HTTP APIs, served on 127.0.0.1.

Users rehearse a release against them and the tests drive the real platform
clients against them. An emulator shares no code with the target that talks to
its platform, so one misunderstanding of the API cannot hide in both.
"""
