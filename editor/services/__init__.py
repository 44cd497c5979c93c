"""The application's services: one per concern (flows, runs), shared by the editor's pages,
the HTTP API and start-up. They speak in domain objects and raise
:mod:`editor.services.errors`; the API maps those to statuses, the pages to messages."""
