"""The application layer: the `segscore` command line (cli, demo), dataset scoring
(dataset: pairing, loading, journal, runners), image I/O, summaries, reports, plots and
progress.  Nothing below this layer imports it."""
