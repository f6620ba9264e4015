package federation

import "fmt"

// Admission is what the account layer does with a verified sign-in.
type Admission int

const (
	// AdmitSignIn: the user linked to (Issuer, Subject) signs in.
	AdmitSignIn Admission = iota + 1
	// AdmitLink: link (Issuer, Subject) to the local user who has this
	// email address, then sign that user in.
	AdmitLink
	// AdmitCreate: create a user (Username as a hint, Email, Roles when
	// ManagesRoles), link the identity to it, and sign it in.
	AdmitCreate
)

func (a Admission) String() string {
	switch a {
	case AdmitSignIn:
		return "sign-in"
	case AdmitLink:
		return "link"
	case AdmitCreate:
		return "create"
	}
	return fmt.Sprintf("Admission(%d)", int(a))
}

// Admit decides, from what the caller's account store found, what happens
// to this sign-in. The account layer looks up, in one transaction:
//
//	linked:     a user is linked to (r.Issuer, r.Subject);
//	emailOwner: otherwise, a local user has r.Email (compared as the users
//	            table compares emails).
//
// The rule (issue 13): an identity maps to one user; a first sign-in
// creates one unless allow_signup is false; it links to an existing local
// user only when the provider is trusted_email AND it verified the address
// — otherwise anyone who can set an unverified address at a provider
// could take over the local account that has it. Without trust, the
// sign-in is refused rather than creating a second account with the same
// address.
func (r *Result) Admit(linked, emailOwner bool) (Admission, error) {
	switch {
	case linked:
		return AdmitSignIn, nil
	case emailOwner && !r.TrustedEmail:
		return 0, fmt.Errorf("%w: %s is not trusted to link to it", ErrEmailTaken, r.Provider)
	case emailOwner && !r.EmailVerified:
		return 0, fmt.Errorf("%w: %s did not verify the address, so it is not linked to the local account that has it", ErrEmailNotVerified, r.Provider)
	case emailOwner:
		return AdmitLink, nil
	case !r.AllowSignup:
		return 0, fmt.Errorf("%w: %s has allow_signup: false and no user is linked to this identity", ErrSignupClosed, r.Provider)
	}
	return AdmitCreate, nil
}
