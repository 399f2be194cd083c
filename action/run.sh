#!/usr/bin/env bash
# Runs `windlass COMMAND` for the action.
#
# The command comes in through the environment (WINDLASS_ACTION_COMMAND),
# never through the script text, and is split on whitespace only (spaces,
# tabs, line breaks): quotes, `$`, backquotes, backslashes and globs reach
# windlass as written and are never run or expanded by a shell. A value
# with spaces therefore cannot be one argument; put it in windlass.toml or
# in an environment variable the command reads.
set -euo pipefail

command=${WINDLASS_ACTION_COMMAND:-}
args=()
# -d '' reads every line; read returns 1 at the end of its input.
read -r -d '' -a args <<<"$command" || true
if [[ ${#args[@]} -eq 0 ]]; then
    echo "::error title=windlass action::the command input is empty; give the windlass arguments, e.g. \`check\`"
    exit 2
fi
exec windlass "${args[@]}"
