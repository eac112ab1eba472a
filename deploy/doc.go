// Package deploy holds what runs beside nudge rather than in it: the
// Prometheus configuration (prometheus/), Grafana's provisioning and
// nudge's dashboard (grafana/), used by docker-compose.yml's profile
// "observability". It has no Go code of its own; its tests check that the
// dashboard's queries name only metrics nudge serves and that the compose
// file, Prometheus and Grafana agree on names, ports and paths.
package deploy
