"""The errors rnnkit raises for what a user gave it, one family: the command line prints a RnnkitError's
message on one line, without a traceback, and exits with its ``exit_code`` (the README's table).
Anything else escaping is a bug in rnnkit, and shows as one.

    RnnkitError        1  bad input, of one of the kinds below
      ConfigError      1  a configuration key or value (YAML, --set, a run's saved config); names the key
      DataError        1  an input file; names the file (and the line, where there is one)
      CheckpointError  1  a run or checkpoint directory, or one of its files; names the file
      TrainingDiverged 3  the loss or the weights became NaN or infinite; the last checkpoint is good
    (argparse)         2  the command line itself: an unknown option, a value of the wrong kind or range
    (Ctrl-C)         130  interrupted; `rnnkit resume` continues from the last checkpoint

Each also derives from the builtin a caller would catch without knowing rnnkit (ValueError for bad
input, RuntimeError for a divergence), so library code that catches those keeps working.
"""

EXIT_BAD_INPUT, EXIT_COMMAND_LINE, EXIT_DIVERGED, EXIT_INTERRUPTED = 1, 2, 3, 130


class RnnkitError(Exception):
    """Something a user gave rnnkit that it cannot use; the message says what and where."""
    exit_code = EXIT_BAD_INPUT


class ConfigError(RnnkitError, ValueError):
    """A configuration key or value that does not fit the dataclass it is meant for."""


class DataError(RnnkitError, ValueError):
    """Input data that cannot be used as it is; the message names the file and the problem."""


class CheckpointError(RnnkitError, ValueError):
    """A checkpoint that is missing, incomplete, damaged or from an incompatible format."""


class TrainingDiverged(RnnkitError, RuntimeError):
    """The loss became NaN or infinite; the last checkpoint is the last good state."""
    exit_code = EXIT_DIVERGED
