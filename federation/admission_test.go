package federation

import "testing"

func TestAdmit(t *testing.T) {
	tests := []struct {
		name                      string
		signup, trusted, verified bool
		linked, emailOwner        bool
		want                      Admission
		wantErr                   error
	}{
		{name: "ok-linked-signs-in", linked: true, want: AdmitSignIn},
		{name: "ok-linked-signs-in-even-with-signup-closed", linked: true, emailOwner: true, want: AdmitSignIn},
		{name: "ok-first-sign-in-creates", signup: true, want: AdmitCreate},
		{name: "ok-trusted-verified-links", trusted: true, verified: true, emailOwner: true, want: AdmitLink},
		{name: "ok-trusted-verified-links-with-signup-closed", signup: false, trusted: true, verified: true, emailOwner: true, want: AdmitLink},
		{name: "fail-signup-closed", signup: false, wantErr: ErrSignupClosed},
		{name: "fail-unverified-email-not-linked", signup: true, trusted: true, verified: false, emailOwner: true, wantErr: ErrEmailNotVerified},
		{name: "fail-untrusted-provider-not-linked", signup: true, trusted: false, verified: true, emailOwner: true, wantErr: ErrEmailTaken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Result{Provider: "p", AllowSignup: tt.signup, TrustedEmail: tt.trusted, EmailVerified: tt.verified}
			got, err := r.Admit(tt.linked, tt.emailOwner)
			if tt.wantErr != nil {
				wantErr(t, "Admit", err, tt.wantErr)
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Admit(%v, %v) = %v, %v; want %v", tt.linked, tt.emailOwner, got, err, tt.want)
			}
		})
	}
}
