//! TAXII status resources (§4.3): kept in memory, bounded in number, each
//! queryable by the caller that made it for at least the configured time
//! (24 h by default; the spec asks for 24 h).

use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One object's outcome in a status resource.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct StatusDetail {
    /// The object's id (or, when it had none, where it was in the body).
    pub id: String,
    /// Its version: `modified`, else `created`, else the `date_added` the
    /// node gave it.
    pub version: String,
    /// Why it failed, or what happened to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A TAXII status resource.
#[derive(Clone, Debug, Serialize)]
pub struct StatusResource {
    /// The status id (UUIDv4).
    pub id: String,
    /// `complete` (writes are synchronous: never `pending`).
    pub status: &'static str,
    /// When the request arrived (6 fractional digits, `Z`).
    pub request_timestamp: String,
    /// Objects in the request.
    pub total_count: u64,
    /// Objects stored, or already stored with the same content.
    pub success_count: u64,
    /// Objects refused.
    pub failure_count: u64,
    /// Objects still being processed (always 0).
    pub pending_count: u64,
    /// The objects stored.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub successes: Vec<StatusDetail>,
    /// The objects refused, each with its reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<StatusDetail>,
    /// Objects pending (always empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pendings: Vec<StatusDetail>,
}

struct Entry {
    made: Instant,
    owner: String,
    resource: Arc<StatusResource>,
}

/// Status resources by id, oldest evicted first when over capacity or
/// older than the time to live.
pub struct StatusStore {
    ttl: Duration,
    capacity: usize,
    inner: Mutex<(HashMap<String, Entry>, VecDeque<String>)>,
}

impl StatusStore {
    /// A store keeping at most `capacity` statuses, each for `ttl`.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        StatusStore { ttl, capacity: capacity.max(1), inner: Mutex::new((HashMap::new(), VecDeque::new())) }
    }

    fn expire(&self, map: &mut HashMap<String, Entry>, order: &mut VecDeque<String>) {
        while let Some(oldest) = order.front() {
            let too_old = map.get(oldest).is_none_or(|e| e.made.elapsed() > self.ttl);
            if too_old || map.len() > self.capacity {
                if let Some(id) = order.pop_front() {
                    map.remove(&id);
                }
            } else {
                break;
            }
        }
    }

    /// Keeps `resource`, readable by `owner` (a caller key).
    pub fn insert(&self, owner: &str, resource: StatusResource) -> Arc<StatusResource> {
        let resource = Arc::new(resource);
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *guard;
        order.push_back(resource.id.clone());
        map.insert(resource.id.clone(), Entry { made: Instant::now(), owner: owner.to_owned(), resource: resource.clone() });
        self.expire(map, order);
        metrics::gauge!("phalanx_taxii_status_resources").set(map.len() as f64);
        resource
    }

    /// The status `id`, if it exists, has not expired and belongs to `owner`.
    pub fn get(&self, owner: &str, id: &str) -> Option<Arc<StatusResource>> {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *guard;
        self.expire(map, order);
        map.get(id).filter(|e| e.owner == owner).map(|e| e.resource.clone())
    }

    /// How many statuses are kept.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).0.len()
    }

    /// Whether none are kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(id: &str) -> StatusResource {
        StatusResource {
            id: id.into(),
            status: "complete",
            request_timestamp: "2026-01-01T00:00:00.000000Z".into(),
            total_count: 0,
            success_count: 0,
            failure_count: 0,
            pending_count: 0,
            successes: vec![],
            failures: vec![],
            pendings: vec![],
        }
    }

    #[test]
    fn bounded_owned_and_expiring() {
        let store = StatusStore::new(Duration::from_secs(3600), 2);
        store.insert("alice", resource("a"));
        store.insert("alice", resource("b"));
        store.insert("bob", resource("c"));
        assert_eq!(store.len(), 2);
        assert!(store.get("alice", "a").is_none(), "oldest evicted");
        assert!(store.get("alice", "b").is_some());
        assert!(store.get("alice", "c").is_none(), "another caller's status is not found");
        assert!(store.get("bob", "c").is_some());
        let expiring = StatusStore::new(Duration::from_millis(0), 10);
        expiring.insert("alice", resource("x"));
        std::thread::sleep(Duration::from_millis(5));
        assert!(expiring.get("alice", "x").is_none());
    }

    #[test]
    fn empty_lists_are_omitted() {
        let v = serde_json::to_value(resource("a")).unwrap();
        assert!(v.get("successes").is_none() && v.get("failures").is_none() && v.get("pendings").is_none());
        assert_eq!(v["total_count"], 0);
    }
}
