// Package scripts holds the shell scripts the Makefile runs; its tests run
// them. test-env gives the test suite what it needs (a Redis, Chromium)
// before `make test` runs it, and takes down what it started afterwards.
package scripts
