"""One small module per inference runtime: sessions, threads, warm-up."""
