package main

import (
	"context"
	"fmt"
	"io"
	"net/mail"
	"text/tabwriter"
	"time"

	"github.com/nudgehq/nudge/internal/store"
)

type staffArgs struct{ clinic, email, role, staff, client string }

// staffCommand runs "nudge clinic staff …": the clinic console's staff.
func staffCommand(ctx context.Context, app *App, cmd string, a staffArgs, need func(v, flagName string) bool, stdout, stderr io.Writer) int {
	if !need(a.clinic, "clinic") {
		return 2
	}
	switch cmd {
	case "staff add":
		if !need(a.email, "email") || !need(a.role, "role") {
			return 2
		}
		if addr, err := mail.ParseAddress(a.email); err != nil || addr.Address != a.email {
			fmt.Fprintf(stderr, "nudge clinic %s: --email: %q is not an email address\n", cmd, a.email)
			return 2
		}
		if a.role != store.RoleOwner && a.role != store.RoleClinician {
			fmt.Fprintf(stderr, "nudge clinic %s: --role: want owner or clinician\n", cmd)
			return 2
		}
		st := store.Staff{ID: store.NewID(), Clinic: a.clinic, Email: a.email, Role: a.role, CreatedAt: app.now().UTC()}
		if err := app.store.AddStaff(ctx, st); err != nil {
			return clinicFail(stderr, cmd, err)
		}
		fmt.Fprintf(stdout, "staff   %s\nemail   %s\nrole    %s\n\nThey sign in at %s\n", st.ID, store.NormaliseEmail(st.Email), st.Role, app.cfg.URL("/console/sign-in"))
	case "staff list":
		if _, err := app.store.Clinic(ctx, a.clinic); err != nil {
			return clinicFail(stderr, cmd, err)
		}
		staff, err := app.store.StaffList(ctx, a.clinic)
		if err != nil {
			return clinicFail(stderr, cmd, err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STAFF ID\tEMAIL\tROLE\tCREATED")
		for _, st := range staff {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", st.ID, st.Email, st.Role, st.CreatedAt.UTC().Format(time.RFC3339))
		}
		tw.Flush()
	case "staff remove":
		if !need(a.staff, "staff") {
			return 2
		}
		if err := app.store.RemoveStaffMember(ctx, a.clinic, a.staff); err != nil {
			return clinicFail(stderr, cmd, err)
		}
		fmt.Fprintf(stdout, "staff %s removed; their console sessions have ended\n", a.staff)
	case "staff assign":
		if !need(a.staff, "staff") || !need(a.client, "client") {
			return 2
		}
		if err := app.store.Assign(ctx, a.clinic, a.staff, a.client); err != nil {
			return clinicFail(stderr, cmd, err)
		}
		fmt.Fprintf(stdout, "client %s assigned to %s\n", a.client, a.staff)
	}
	return 0
}
