//! Federation between Phalanx nodes (issue 5).
//!
//! Each node has an Ed25519 node key and a key per organisation it hosts
//! ([`keys`]). Every object leaves the node signed by its originator
//! organisation over its RFC 8785 form, and the signature travels with it
//! through every hop ([`protocol`]). A peer ([`peers`]) is configured with
//! its URL, node key, the organisations it serves, the policies it is
//! accredited for, its ceiling and its exercises; what goes to it is
//! decided per version by `phalanx_labels::may_release_to_peer` inside the
//! store query (`FederationStore::release_page`). The [`engine`] pushes
//! each peer's stream from a persisted cursor and pulls from the peer
//! to catch up; the receiver ([`receive`]) holds the authoritative
//! position in each peer's stream, so push and pull never leave gaps or
//! duplicates. [`server`] holds the HTTP routes peers call.

pub mod engine;
pub mod error;
pub mod keys;
pub mod peers;
pub mod protocol;
pub mod receive;
pub mod server;
pub mod tree;

pub use engine::{Federation, SyncConfig, Wakeup};
pub use error::FederationError;
pub use keys::{KeyPair, KeyRing};
pub use peers::{Peer, PeerConfig, PeerInput, add_peer, load_peers};
