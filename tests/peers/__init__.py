"""Real third-party peers that integration tests start on the loopback: a FHIR R4 server and a fault proxy."""
