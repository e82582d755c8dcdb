#!/usr/bin/env bash
# The build scripts' shared flags (source it, then call `xent_build_flags <name> "$@"`):
#   --verbose (or XENT_VERBOSE=1, or `npm run ... --verbose`)   VERBOSE=1: the tools' own output
#   --force   (or XENT_FORCE_BUILD=1)                          FORCE=1: rebuild even when current
xent_build_flags() {
    local name="$1" a
    shift
    VERBOSE=0 FORCE=0
    for a in "$@"; do
        case "$a" in
            --verbose) VERBOSE=1 ;;
            --force) FORCE=1 ;;
            *) echo "$name: error: unknown argument '$a' (expected --verbose or --force)" >&2; exit 2 ;;
        esac
    done
    [[ ${XENT_VERBOSE:-} == 1 || ${npm_config_loglevel:-} == verbose || ${npm_config_loglevel:-} == silly ]] && VERBOSE=1
    [[ ${XENT_FORCE_BUILD:-} == 1 ]] && FORCE=1
    return 0
}
