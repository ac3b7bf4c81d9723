"""The REST API's assembly (`router.api_router`), its access dependency and error handler."""
