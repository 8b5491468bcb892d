//! What is wrong with an object: one error names the object, the JSON path
//! and the rule it breaks.

use std::fmt;

/// One problem found in one object. Used for errors (the object is refused)
/// and warnings (the object is kept, the problem reported).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectError {
    /// The object's `id` when it had a readable one.
    pub object_id: Option<String>,
    /// JSON path of the offending value, e.g. `$.objects[3].valid_from`.
    pub path: String,
    /// Short stable name of the rule broken, e.g. `required-property`.
    pub rule: &'static str,
    /// Lowercase human explanation.
    pub message: String,
}

impl fmt::Display for ObjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.object_id {
            Some(id) => write!(f, "{id} at {}: {} [{}]", self.path, self.message, self.rule),
            None => write!(f, "object at {}: {} [{}]", self.path, self.message, self.rule),
        }
    }
}

impl std::error::Error for ObjectError {}

/// All the errors found in one refused object, in the order found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectErrors(pub Vec<ObjectError>);

impl fmt::Display for ObjectErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ObjectErrors {}

impl ObjectErrors {
    /// The first error (there is always at least one).
    pub fn first(&self) -> Option<&ObjectError> {
        self.0.first()
    }
}
