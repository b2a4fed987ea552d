"""The password of every user the service tests make (tests/api/conftest.py: make_user)."""

PASSWORD = "correct horse battery staple"
