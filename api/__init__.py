"""The web service: JSON API, pages, authentication and the admin command line."""
