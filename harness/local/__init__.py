"""The embedded AWS: moto server, a gateway with fault injection and IAM, the Lambda service."""
