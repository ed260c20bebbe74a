//! The loading path's JSON tree: strings and numbers borrow the line they were
//! parsed from (strings with escapes are decoded into the arena), containers live in
//! an arena (`bumpalo`), and an object is a vector of unique keys already in jsonb's
//! order (shorter keys first, then bytewise; the last of duplicate keys wins, as in
//! `jsonb_in`). Parsing a line allocates nothing from the heap, conversion edits the
//! tree in place, the jsonb encoder writes it out without sorting, and the whole tree
//! goes at once when the arena is reset. serde_json stays for everything else.

mod parse;

use bumpalo::collections::Vec as ArenaVec;
pub use bumpalo::Bump;
pub use parse::{parse, ParseError, MAX_DEPTH};
use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    /// The number's text as written (valid JSON number syntax).
    Number(&'a str),
    String(&'a str),
    Array(ArenaVec<'a, Json<'a>>),
    Object(Object<'a>),
}

impl<'a> Json<'a> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// The same value as a serde_json tree (numbers keep their text).
    pub fn to_serde(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => serde_json::from_str(n).unwrap_or(Value::Null),
            Json::String(s) => Value::String(s.to_string()),
            Json::Array(items) => Value::Array(items.iter().map(Json::to_serde).collect()),
            Json::Object(obj) => Value::Object(
                obj.iter()
                    .map(|(k, v)| (k.to_string(), v.to_serde()))
                    .collect(),
            ),
        }
    }
}

/// jsonb's key order.
pub fn key_order(a: &str, b: &str) -> Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

/// One member of an object.
pub type Member<'a> = (&'a str, Json<'a>);

/// An object's members: unique keys, sorted by `key_order`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object<'a> {
    members: ArenaVec<'a, Member<'a>>,
}

impl<'a> Object<'a> {
    pub fn new_in(arena: &'a Bump) -> Self {
        Object {
            members: ArenaVec::new_in(arena),
        }
    }

    /// An empty object in the same arena.
    pub fn new_sibling(&self) -> Self {
        Object::new_in(self.members.bump())
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.members.binary_search_by(|(k, _)| key_order(k, key))
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.position(key).ok().map(|i| &self.members[i].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Json<'a>> {
        self.position(key).ok().map(|i| &mut self.members[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    pub fn remove(&mut self, key: &str) -> Option<Json<'a>> {
        self.position(key).ok().map(|i| self.members.remove(i).1)
    }

    /// Sets `key`, replacing a value it had.
    pub fn insert(&mut self, key: &'a str, value: Json<'a>) {
        match self.position(key) {
            Ok(i) => self.members[i].1 = value,
            Err(i) => self.members.insert(i, (key, value)),
        }
    }

    pub fn members(&self) -> &[Member<'a>] {
        &self.members
    }

    pub fn keys(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.members.iter().map(|(k, _)| *k)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &Json<'a>)> {
        self.members.iter().map(|(k, v)| (*k, v))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&'a str, &mut Json<'a>)> {
        self.members.iter_mut().map(|(k, v)| (*k, v))
    }

    /// Empties the object, handing over its members in key order.
    pub fn take(&mut self) -> ArenaVec<'a, Member<'a>> {
        let empty = ArenaVec::new_in(self.members.bump());
        std::mem::replace(&mut self.members, empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(o: &Object) -> Vec<String> {
        o.keys().map(str::to_string).collect()
    }

    #[test]
    fn members_are_unique_and_in_jsonb_order() {
        let arena = Bump::new();
        let text = r#"{"bb":null,"a":true,"ab":null,"a":false,"":null,"a":3}"#;
        let Json::Object(o) = parse(text, &arena).unwrap() else {
            panic!()
        };
        assert_eq!(keys(&o), ["", "a", "ab", "bb"]);
        assert_eq!(o.get("a"), Some(&Json::Number("3")));
        let Json::Object(one) = parse(r#"{"only":[{"z":1,"y":{}}]}"#, &arena).unwrap() else {
            panic!()
        };
        let Some(Json::Array(items)) = one.get("only") else {
            panic!()
        };
        let Json::Object(inner) = &items[0] else {
            panic!()
        };
        assert_eq!(keys(inner), ["y", "z"]);
    }

    #[test]
    fn insert_and_remove_keep_the_order() {
        let arena = Bump::new();
        let mut o = Object::new_in(&arena);
        for k in ["value", "id", "resourceType", "x", "id"] {
            o.insert(k, Json::String(k));
        }
        assert_eq!(keys(&o), ["x", "id", "value", "resourceType"]);
        assert_eq!(o.remove("value"), Some(Json::String("value")));
        assert_eq!(o.remove("value"), None);
        assert!(o.contains_key("x") && !o.contains_key("y"));
        assert_eq!(o.len(), 3);
    }
}
