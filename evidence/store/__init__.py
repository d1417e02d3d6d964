"""Evidence files: the blob store protocol, the local folder and S3, registration, verification, media type."""
