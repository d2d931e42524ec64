//! Walking a `serde_json::Value` with the JSON path of each value at hand,
//! so that every refusal names the field it is about, and every object
//! field is either taken by the lowering or refused as unknown.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::Error;

/// The path of `key` in the object at `path` (`process.user`).
pub(super) fn field(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The path of element `i` of the array at `path` (`mounts[3]`).
pub(super) fn elem(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// The value as compact JSON, shortened for an error message.
pub(super) fn show(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 120 {
        let mut end = 117;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value of the wrong JSON type.
pub(super) fn wrong_type(path: &str, want: &str, v: &Value) -> Error {
    Error::Json {
        path: path.to_owned(),
        message: format!("expected {want}, found {}", kind(v)),
    }
}

/// A value the lowering refuses.
pub(super) fn unsupported(path: &str, v: &Value, reason: impl Into<String>) -> Error {
    Error::Unsupported {
        path: path.to_owned(),
        value: show(v),
        reason: reason.into(),
    }
}

/// A value the specification does not allow.
pub(super) fn invalid(path: &str, reason: impl Into<String>) -> Error {
    Error::Invalid {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Whether a value asks for anything: `null`, `false`, `""`, `[]` and `{}`
/// do not.
pub(super) fn is_set(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

/// An object being lowered: each field taken is marked, and
/// [`finish`](Obj::finish) refuses the fields nobody took.
pub(super) struct Obj<'a> {
    map: &'a Map<String, Value>,
    pub(super) path: String,
    taken: BTreeSet<&'a str>,
}

impl<'a> Obj<'a> {
    pub(super) fn new(v: &'a Value, path: &str) -> Result<Obj<'a>, Error> {
        match v {
            Value::Object(map) => Ok(Obj {
                map,
                path: path.to_owned(),
                taken: BTreeSet::new(),
            }),
            other => Err(wrong_type(path, "an object", other)),
        }
    }

    /// The field `key` and its path; `null` counts as absent.
    pub(super) fn take(&mut self, key: &str) -> Option<(&'a Value, String)> {
        let (k, v) = self.map.get_key_value(key)?;
        self.taken.insert(k.as_str());
        if v.is_null() {
            None
        } else {
            Some((v, field(&self.path, key)))
        }
    }

    /// Takes `key`, refusing it when it asks for anything.
    pub(super) fn refuse(&mut self, key: &str, reason: &str) -> Result<(), Error> {
        match self.take(key) {
            Some((v, p)) if is_set(v) => Err(unsupported(&p, v, reason)),
            _ => Ok(()),
        }
    }

    /// Marks `key` as deliberately ignored.
    pub(super) fn ignore(&mut self, key: &str) {
        let _ = self.take(key);
    }

    pub(super) fn string(&mut self, key: &str) -> Result<Option<(&'a str, String)>, Error> {
        match self.take(key) {
            None => Ok(None),
            Some((v, p)) => Ok(Some((string(v, &p)?, p))),
        }
    }

    pub(super) fn bool(&mut self, key: &str) -> Result<Option<bool>, Error> {
        match self.take(key) {
            None => Ok(None),
            Some((Value::Bool(b), _)) => Ok(Some(*b)),
            Some((v, p)) => Err(wrong_type(&p, "a boolean", v)),
        }
    }

    pub(super) fn u64(&mut self, key: &str) -> Result<Option<u64>, Error> {
        match self.take(key) {
            None => Ok(None),
            Some((v, p)) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| wrong_type(&p, "an unsigned integer", v)),
        }
    }

    pub(super) fn i64(&mut self, key: &str) -> Result<Option<i64>, Error> {
        match self.take(key) {
            None => Ok(None),
            Some((v, p)) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| wrong_type(&p, "an integer", v)),
        }
    }

    pub(super) fn u32(&mut self, key: &str) -> Result<Option<u32>, Error> {
        match self.take(key) {
            None => Ok(None),
            Some((v, p)) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| wrong_type(&p, "an unsigned 32-bit integer", v)),
        }
    }

    pub(super) fn array(&mut self, key: &str) -> Result<Option<(&'a [Value], String)>, Error> {
        match self.take(key) {
            None => Ok(None),
            Some((Value::Array(a), p)) => Ok(Some((a.as_slice(), p))),
            Some((v, p)) => Err(wrong_type(&p, "an array", v)),
        }
    }

    /// An array of strings, each with its path.
    pub(super) fn strings(&mut self, key: &str) -> Result<Vec<(&'a str, String)>, Error> {
        let Some((items, p)) = self.array(key)? else {
            return Ok(Vec::new());
        };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let ip = elem(&p, i);
                string(v, &ip).map(|s| (s, ip))
            })
            .collect()
    }

    pub(super) fn object(&mut self, key: &str) -> Result<Option<Obj<'a>>, Error> {
        match self.take(key) {
            None => Ok(None),
            Some((v, p)) => Obj::new(v, &p).map(Some),
        }
    }

    /// Takes every field not taken yet (`null` ones included).
    pub(super) fn rest(&mut self) -> Vec<(&'a str, &'a Value, String)> {
        let mut out = Vec::new();
        for (k, v) in self.map {
            if self.taken.insert(k.as_str()) {
                out.push((k.as_str(), v, field(&self.path, k)));
            }
        }
        out
    }

    /// Refuses every field not taken.
    pub(super) fn finish(self) -> Result<(), Error> {
        for (k, v) in self.map {
            if !self.taken.contains(k.as_str()) {
                return Err(unsupported(
                    &field(&self.path, k),
                    v,
                    "unknown field: stockade refuses what it does not know rather than ignore it",
                ));
            }
        }
        Ok(())
    }
}

pub(super) fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, Error> {
    v.as_str().ok_or_else(|| wrong_type(path, "a string", v))
}
