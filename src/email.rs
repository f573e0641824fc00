//! Email address validation for invitations.
