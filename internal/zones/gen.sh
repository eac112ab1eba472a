#!/bin/sh
# Regenerates list.go from the system's IANA zone.tab. zones_test.go checks
# that every name loads from Go's embedded tzdata.
set -e
cd "$(dirname "$0")"
{
  echo '// Code generated from the IANA zone.tab (one zone per country region) and checked'
  echo "// against Go's embedded tzdata; DO NOT EDIT. Regenerate with internal/zones/gen.sh."
  echo
  echo 'package zones'
  echo
  echo '// names are the zones the signup form offers, sorted, with UTC first.'
  echo 'var names = [...]string{'
  echo '	"UTC",'
  grep -v '^#' /usr/share/zoneinfo/zone.tab | cut -f3 | sort -u | sed 's/.*/	"&",/'
  echo '}'
} > list.go
gofmt -w list.go
