"""`fusionmat serve`: the HTTP API and its web page."""
