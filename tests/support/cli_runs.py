"""Programs that run the `segscore` command in a subprocess."""

# `segscore` whose reader opens a FIFO instead of refusing it: a read that never returns, as on a
# hung network file system (the real reader reports a FIFO as a failed case without opening it),
# to hold a run at one case
HANGING_READ_MAIN = (
    "import os, stat, sys\n"
    "import segscore.app.io as sio\n"
    "_check = sio.check_regular\n"
    "def check_regular(path):\n"
    "    if stat.S_ISFIFO(os.stat(path).st_mode):\n"
    "        open(path, 'rb').read()\n"
    "    return _check(path)\n"
    "sio.check_regular = check_regular\n"
    "from segscore.app.cli import main\n"
    "sys.exit(main())\n")
