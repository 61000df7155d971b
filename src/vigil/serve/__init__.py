"""Front ends: the HTTP API and the seed zerorpc servers, sharing one pipeline."""
