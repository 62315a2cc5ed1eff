"""Cross-checks of every segscore convention against the library it mirrors."""
