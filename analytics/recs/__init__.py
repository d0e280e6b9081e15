"""Recommendations: event and user vectors (vectors), the FAISS index and its versions (index), the
rebuild (build), the queries pages and the API ask (query), the blocks on pages (pages)."""
