package identity

import (
	"slices"
	"testing"
)

func TestNew(t *testing.T) {
	roles := []string{"dev", "admin", "dev"}
	id := New(Identity{UserID: "7", Roles: roles})
	if want := []string{"admin", "dev"}; !slices.Equal(id.Roles, want) {
		t.Errorf("New(roles %v).Roles = %v; want %v", roles, id.Roles, want)
	}
	if got := id.RolesHeader(); got != "admin,dev" {
		t.Errorf("RolesHeader() = %q; want %q", got, "admin,dev")
	}
	if want := []string{"dev", "admin", "dev"}; !slices.Equal(roles, want) {
		t.Errorf("New changed its input to %v", roles)
	}
	if got := New(Identity{}).RolesHeader(); got != "" {
		t.Errorf("RolesHeader() without roles = %q; want \"\"", got)
	}
}

func TestHasAnyRole(t *testing.T) {
	id := New(Identity{Roles: []string{"dev", "admin"}})
	tests := []struct {
		name  string
		roles []string
		want  bool
	}{
		{name: "ok-none-asked", roles: nil, want: true},
		{name: "ok-one-of", roles: []string{"ops", "admin"}, want: true},
		{name: "fail-other", roles: []string{"ops"}, want: false},
		{name: "fail-case", roles: []string{"Admin"}, want: false},
	}
	for _, tt := range tests {
		if got := id.HasAnyRole(tt.roles); got != tt.want {
			t.Errorf("%s: HasAnyRole(%v) = %v; want %v", tt.name, tt.roles, got, tt.want)
		}
	}
}
