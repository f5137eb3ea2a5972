#!/usr/bin/env bash
# Proves that the README's move to docs/ lost nothing: every non-blank line of
# the old README (at git revision $1, default b4fa48d, the last one-file README)
# is a line of the new README.md or of a docs/*.md file, except
#   - headings, whose level changed: their text must be a heading there;
#   - code fences, whose info string may have gained ",ignore" / ",no_run";
#   - the lines edited on purpose (relative links to other chapters), listed
#     below as OLD => NEW, where NEW must be present instead.
# Usage: bash scripts/check-docs-moved.sh [REV]
set -euo pipefail
cd "$(dirname "$0")/.."
rev="${1:-b4fa48d}"
new=$(mktemp)
trap 'rm -f "$new"' EXIT
cat README.md docs/*.md > "$new"

edits=(
  '  connection limits of [Safety](#safety). No request is left hanging: the'
  '  connection limits of [Safety](safety.md). No request is left hanging: the'
  '  [Safety](#safety), "The source edge").'
  '  [Safety](safety.md), "The source edge").'
  '  (logged escaped, at most 17 events per stream and call: see Operations). No'
  '  (logged escaped, at most 17 events per stream and call: see [Operations](operations.md)). No'
  '  With no recorder every handle is a no-op (see Performance for the cost of'
  '  With no recorder every handle is a no-op (see [Performance](performance.md) for the cost of'
  'and p999s) on real guests and writes [`benches/results.md`](benches/results.md).'
  'and p999s) on real guests and writes [`benches/results.md`](../benches/results.md).'
  '[`benches/results.md`](benches/results.md).) Before this round the per-call'
  '[`benches/results.md`](../benches/results.md).) Before this round the per-call'
  'component is never pruned. Its trust model is in the Safety section.'
  'component is never pruned. Its trust model is in [Safety](safety.md).'
  'Configuration table above. A bad URI fails when the route is added, with an'
  '[Configuration](configuration.md) table. A bad URI fails when the route is added, with an'
  '[Sources](#sources-inbound-http): `bind`, `path`, `auth*`, `tls-*`, the'
  '[Sources](rust-api.md#sources-inbound-http): `bind`, `path`, `auth*`, `tls-*`, the'
  '- **Authentication** is required, as everywhere (see [Safety](#safety)): the'
  '- **Authentication** is required, as everywhere (see [Safety](safety.md)): the'
)
declare -A replaced
for ((i = 0; i < ${#edits[@]}; i += 2)); do replaced["${edits[i]}"]="${edits[i+1]}"; done

total=0 verbatim=0 headings=0 fences=0 edited=0 missing=0
while IFS= read -r line; do
  [[ -z "${line//[[:space:]]/}" ]] && continue
  total=$((total + 1))
  if grep -qxF -- "$line" "$new"; then
    verbatim=$((verbatim + 1))
  elif [[ "$line" =~ ^#+\ (.*)$ ]] && grep -qxE -- "#+ $(printf '%s' "${BASH_REMATCH[1]}" | sed 's/[][\.*^$(){}?+|/]/\\&/g')" "$new"; then
    headings=$((headings + 1))
  elif [[ "$line" =~ ^(\ *)\`\`\`([a-z]+)$ ]] && grep -qE -- "^${BASH_REMATCH[1]}\`\`\`${BASH_REMATCH[2]}(,[a-z_]+)*$" "$new"; then
    fences=$((fences + 1))
  elif [[ -n "${replaced[$line]+x}" ]] && grep -qxF -- "${replaced[$line]}" "$new"; then
    edited=$((edited + 1))
  else
    missing=$((missing + 1))
    echo "missing: $line"
  fi
done < <(git show "$rev:README.md")

echo "old README ($rev): $total non-blank lines: $verbatim verbatim, $headings headings (level changed), $fences code fences (info string), $edited edited links; $missing missing"
[[ $missing -eq 0 ]]
