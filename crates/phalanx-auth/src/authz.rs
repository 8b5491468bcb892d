//! Who may manage organisations, users and tokens.
//!
//! These are management rights only. No role reads more than the read rule
//! allows: a node administrator without clearance reads no classified data.

use phalanx_store::{Actor, Role, UserRecord};

/// Whether `actor` may register organisations: node administrators only.
pub fn may_add_organisation(actor: &Actor) -> bool {
    actor.user.role == Role::NodeAdmin
}

/// Whether `actor` may create a user of organisation `org_id` with `role`:
/// a node administrator anyone; an organisation administrator users of its
/// own organisation, up to org-admin.
pub fn may_add_user(actor: &Actor, org_id: &str, role: Role) -> bool {
    match actor.user.role {
        Role::NodeAdmin => true,
        Role::OrgAdmin => actor.org_id() == org_id && role <= Role::OrgAdmin,
        _ => false,
    }
}

/// Whether `actor` may make or revoke tokens of `user`: the user itself, a
/// node administrator, or an administrator of the user's organisation.
pub fn may_manage_tokens_of(actor: &Actor, user: &UserRecord) -> bool {
    actor.user.id == user.id
        || actor.user.role == Role::NodeAdmin
        || (actor.user.role == Role::OrgAdmin && actor.org_id() == user.org_id)
}

/// Whether `actor` may see `user` in a user list: itself, a node
/// administrator everyone, an organisation administrator its organisation.
pub fn may_see_user(actor: &Actor, user: &UserRecord) -> bool {
    may_manage_tokens_of(actor, user)
}

/// Whether `actor` may read or verify the audit log: node administrators.
pub fn may_read_audit(actor: &Actor) -> bool {
    actor.user.role == Role::NodeAdmin
}
