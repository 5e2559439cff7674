"""Dockerfile builder: parser, context, cache and executor for POST /build."""
