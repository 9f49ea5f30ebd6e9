"""GraphQL over HTTP as the hub speaks it: media types, request errors, persisted documents."""
